# Reference values for bvall.design.simon and bvall.design.simon_inference.
#
# Run with R 4.2 and clinfun 1.1.5 (CRAN: install.packages("clinfun")):
#   Rscript clinfun_simon.R
# Writes clinfun_ph2simon.csv (every minimax/admissible/optimal design printed by ph2simon)
# and clinfun_inference.csv (twostage.inference: UMVUE, p-value, 1-2*alpha CI limits).
# CI has no R: the tests read the stored CSV files.
suppressMessages(library(clinfun))

grid <- expand.grid(
  pu = c(0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70),
  delta = c(0.15, 0.20),
  err = c("0.10/0.10", "0.05/0.20", "0.05/0.10"),
  stringsAsFactors = FALSE
)
rows <- list()
for (i in seq_len(nrow(grid))) {
  pu <- grid$pu[i]
  pa <- round(pu + grid$delta[i], 2)
  e <- as.numeric(strsplit(grid$err[i], "/")[[1]])
  d <- ph2simon(pu, pa, e[1], e[2], nmax = 150)
  adm <- clinfun:::twostage.admissible(d)
  for (j in seq_len(nrow(adm))) {
    rows[[length(rows) + 1]] <- data.frame(
      p0 = pu, p1 = pa, alpha = e[1], beta = e[2], type = tolower(rownames(adm)[j]),
      r1 = adm[j, 1], n1 = adm[j, 2], r = adm[j, 3], n = adm[j, 4],
      en0 = adm[j, 5], pet0 = adm[j, 6], q_low = adm[j, 7], q_high = adm[j, 8]
    )
  }
}
write.csv(do.call(rbind, rows), "clinfun_ph2simon.csv", row.names = FALSE)

cases <- data.frame(
  x  = c(2, 3, 4, 11, 12, 13, 14, 20, 5, 6, 10),
  r1 = c(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1),
  n1 = c(13, 13, 13, 13, 13, 13, 13, 13, 10, 10, 10),
  n  = c(43, 43, 43, 43, 43, 43, 43, 43, 29, 29, 29),
  pu = c(0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1)
)
out <- list()
for (i in seq_len(nrow(cases))) {
  v <- twostage.inference(cases$x[i], cases$r1[i], cases$n1[i], cases$n[i], cases$pu[i], 0.05)
  out[[i]] <- data.frame(cases[i, ], umvue = v[1], p_value = v[2], lcl = v[3], ucl = v[4])
}
write.csv(do.call(rbind, out), "clinfun_inference.csv", row.names = FALSE)
