"""Reference synonyms for the WordNet reader: NLTK's WordNetCorpusReader over Debian's wordnet-base files, and EDA's
`get_synonyms` (eda.py by Jason Wei: lemmas of every synset of wordnet.synsets(word), '_' and '-' to spaces, letters
and spaces only, the word itself removed).

NLTK also needs index.sense (Debian package wordnet-sense-index), which the Rust reader does not use.

Run by hand:  ~/.venvs/ref/bin/python scripts/reference/make_wordnet_synonyms.py
Writes crates/albert-train/tests/fixtures/wordnet_synonyms.json.
"""
import json
import os
import shutil

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader

# NLTK wants the `lexnames` file, which Debian's wordnet-base does not ship; its 45 names are fixed by WordNet 3.0.
LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body
noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive
noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation
noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication
verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception
verb.possession verb.social verb.stative verb.weather adj.ppl""".split()
# NLTK only reads corpora under its data directories.
tmp = os.path.expanduser("~/nltk_data/corpora/wordnet")
os.makedirs(tmp, exist_ok=True)
for f in os.listdir("/usr/share/wordnet"):
    src = os.path.join("/usr/share/wordnet", f)
    if os.path.isfile(src):
        shutil.copy(src, tmp)
with open(os.path.join(tmp, "lexnames"), "w") as f:
    for i, name in enumerate(LEXNAMES):
        f.write(f"{i:02d}\t{name}\t{i // 100}\n")
wn = WordNetCorpusReader(tmp, None)


def get_synonyms(word):  # eda.py
    synonyms = set()
    for syn in wn.synsets(word):
        for l in syn.lemmas():
            synonym = l.name().replace("_", " ").replace("-", " ").lower()
            synonym = "".join([char for char in synonym if char in " qwertyuiopasdfghjklzxcvbnm"])
            synonyms.add(synonym)
    if word in synonyms:
        synonyms.remove(word)
    return sorted(synonyms)


WORDS = ["good", "film", "movies", "funny", "running", "happiest", "ran", "geese", "better", "boring", "wonderful",
         "acting", "plot", "characters", "slow", "zzzz", "beautifully", "children", "feet", "watched"]
out = {"nltk": nltk.__version__, "source": "/usr/share/wordnet (Debian wordnet-base 3.0)",
       "lemmas": {w: sorted({l.name().replace("_", " ").lower() for s in wn.synsets(w) for l in s.lemmas()} - {w})
                  for w in WORDS},
       "eda": {w: get_synonyms(w) for w in WORDS}}
path = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "albert-train", "tests", "fixtures",
                    "wordnet_synonyms.json")
json.dump(out, open(path, "w"), indent=0)
print(path, {w: len(v) for w, v in out["lemmas"].items()})
