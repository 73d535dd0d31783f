"""The part of OpenAI's OpenAPI document that `albert serve`'s OpenAI routes answer to, as a test fixture.

Run by hand (never by CI), from the repository root, with OpenAI's document (openai/openai-openapi, `openapi.json`
at the commit named in crates/albert-serve/tests/fixtures/README.md) as the argument:

    python3 scripts/reference/extract_openai_schema.py path/to/openai-openapi/openapi.json

Writes crates/albert-serve/tests/fixtures/openai-openapi-embeddings.json: `openapi` and `info` as they are, the
operations `POST /embeddings` and `GET /models` (without their `x-oaiMeta` documentation examples), and every
component they reach through `$ref` (schemas and responses), unchanged.
"""
import json
import sys

OUT = "crates/albert-serve/tests/fixtures/openai-openapi-embeddings.json"
OPERATIONS = [("/embeddings", "post"), ("/models", "get")]


def refs(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs(v)


def main():
    doc = json.load(open(sys.argv[1]))
    paths = {}
    for path, method in OPERATIONS:
        op = {k: v for k, v in doc["paths"][path][method].items() if k != "x-oaiMeta"}
        paths.setdefault(path, {})[method] = op
    components, todo = {}, list(refs(paths))
    while todo:
        ref = todo.pop()
        _, _, kind, name = ref.split("/")
        if name in components.setdefault(kind, {}):
            continue
        value = doc["components"][kind][name]
        components[kind][name] = value
        todo.extend(refs(value))
    components = {kind: dict(sorted(v.items())) for kind, v in sorted(components.items())}
    out = {"openapi": doc["openapi"], "info": doc["info"], "paths": paths, "components": components}
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(OUT, {k: sorted(v) for k, v in components.items()})


if __name__ == "__main__":
    main()
