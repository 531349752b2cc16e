# Reference values for bvall.stats.exact (Fisher's exact test).
# Run from this folder:  Rscript fisher.R   (writes fisher_2x2.csv and fisher_rxc.csv)
# R 4.2; base R stats::fisher.test.
#   2 x 2: fisher.test(matrix(c(a, c, b, d), 2), alternative = alt, conf.level = level)
#          -> p.value, estimate (conditional MLE odds ratio), conf.int
#          The table is [[a, b], [c, d]] read by rows.
#   r x c: fisher.test(m) (FEXACT network algorithm; exact, no simulation) -> p.value

tables <- list(
  c(3, 1, 1, 3), c(5, 3, 1, 4), c(1, 4, 5, 3), c(0, 5, 5, 0), c(5, 0, 0, 5), c(0, 3, 4, 6),
  c(7, 0, 2, 4), c(0, 0, 3, 4), c(2, 3, 0, 0), c(1, 0, 0, 0), c(10, 10, 10, 10),
  c(12, 5, 3, 9), c(2, 7, 8, 2), c(20, 15, 10, 30), c(1, 9, 11, 3), c(4, 4, 4, 4),
  c(0, 10, 10, 0), c(3, 9, 6, 2)
)
alts <- c("two.sided", "less", "greater")
levels <- c(0.95, 0.90)
rows <- list()
fmt <- function(v) sprintf("%.15g", v)
for (t in tables) {
  m <- matrix(c(t[1], t[3], t[2], t[4]), nrow = 2)
  for (alt in alts) for (level in levels) {
    r <- fisher.test(m, alternative = alt, conf.level = level)
    rows[[length(rows) + 1]] <- data.frame(
      a = t[1], b = t[2], c = t[3], d = t[4], alternative = sub("two.sided", "two-sided", alt),
      level = level, p_value = fmt(r$p.value), odds_ratio = fmt(r$estimate),
      conf_low = fmt(r$conf.int[1]), conf_high = fmt(r$conf.int[2]))
  }
}
write.csv(do.call(rbind, rows), "fisher_2x2.csv", row.names = FALSE, quote = FALSE)

rxc <- c("3,2,1;1,2,4", "1,2,3;3,2,1", "8,2,12;1,5,2", "5,0,0;0,5,0;0,0,5", "2,3,4;5,6,7;1,1,1",
         "0,1,2,3;3,2,1,0", "4,1;2,3;0,5", "10,3,2;3,10,2;2,2,10", "1,1,1;1,1,1", "0,0,5;3,2,0",
         "6,1,0,2;0,4,3,1", "12,3;8,7;2,9;5,5")
parse <- function(s) do.call(rbind, lapply(strsplit(strsplit(s, ";")[[1]], ","), as.numeric))
rows <- list()
for (s in rxc) {
  r <- fisher.test(parse(s))
  rows[[length(rows) + 1]] <- data.frame(table = paste0('"', s, '"'), p_value = fmt(r$p.value))
}
write.csv(do.call(rbind, rows), "fisher_rxc.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "\n")
