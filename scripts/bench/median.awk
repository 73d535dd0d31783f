# median(list): the median of the space-separated numbers in `list` (the mean of the middle two for an even count).
# Shared by the int8 benchmark scripts' summaries (int8_kernels.sh, int8_cpu_ab.sh).
function median(list,   v, n, i, j, t) {
  n = split(list, v, " ")
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
