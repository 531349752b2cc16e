# Reference values for bvall.stats.describe (median, quartiles, range, mean, SD).
# Run from this folder:  Rscript describe.R   (writes describe.csv)
# R 4.2, base R: quantile(x, c(0.25, 0.5, 0.75)) (type 7, R's default), range(x), mean(x), sd(x),
# all with na.rm = TRUE; n = number of non-missing values, missing = number of NA.
vectors <- list(
  ages = c(72, 18, 52, 25, 74, 32, 67, 41, 49, 68, 24, 54, 63),
  wbc = c(2.02, 1.56, 17.2, 222.17, 1.59, 9.65, 2.84, 2.23, 1.98, 35.97, 1.71, 2.61, 38.55),
  even = c(2, 2, 2, 3, 4, 4, 4.5, 10),
  with_missing = c(5, NA, 1, 3, NA, 8),
  single = c(7),
  pair = c(1, 4)
)
fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.15g", v))
rows <- lapply(names(vectors), function(nm) {
  x <- vectors[[nm]]
  q <- quantile(x, c(0.25, 0.5, 0.75), na.rm = TRUE)
  data.frame(name = nm, values = paste(ifelse(is.na(x), "NA", x), collapse = ";"),
             n = sum(!is.na(x)), missing = sum(is.na(x)), q1 = fmt(q[[1]]), median = fmt(q[[2]]),
             q3 = fmt(q[[3]]), min = fmt(min(x, na.rm = TRUE)), max = fmt(max(x, na.rm = TRUE)),
             mean = fmt(mean(x, na.rm = TRUE)), sd = fmt(sd(x, na.rm = TRUE)))
})
write.csv(do.call(rbind, rows), "describe.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "\n")
