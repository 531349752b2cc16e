# Reference values for bvall.stats.survival cumulative incidence (Aalen-Johansen with competing
# risks, Gray's variance).
# Run from this folder:  Rscript cmprsk.R   (writes cif_data.csv, cif_curve.csv, cif_timepoints.csv)
# R 4.2, cmprsk 2.2-11.
#   cuminc(time, cause, cencode = 0): est and var of the cumulative incidence of each cause at the
#   corners of the step function (cif_curve.csv), and timepoints(fit, t) at chosen times
#   (cif_timepoints.csv). cause: 0 = censored, 1 = relapse (event of interest), 2 = death without
#   relapse (competing).
#   cmprsk gives no confidence interval; cif_timepoints.csv adds the log-log interval written out
#   in R, F^exp(+-z*sqrt(var)/(F*log(F))) (Choudhury 2002; Pintilie 2006, section 4.2.2), at 95 %.

library(cmprsk)
set.seed(20250102)
n <- 300
t1 <- ceiling(rexp(n, 1 / 400)); t2 <- ceiling(rexp(n, 1 / 700)); tc <- ceiling(runif(n, 60, 1000))
tt <- pmin(t1, t2, tc)
cc <- ifelse(tt == tc, 0, ifelse(tt == t1, 1, 2))
data <- list(
  small = data.frame(time = c(1, 2, 2, 3, 4, 4, 4, 5, 6, 8, 9, 9, 10, 12),
                     cause = c(1, 2, 1, 0, 1, 2, 0, 1, 0, 2, 1, 1, 0, 1)),
  no_competing = data.frame(time = c(2, 3, 3, 5, 7, 8, 11), cause = c(1, 0, 1, 1, 0, 1, 0)),
  competing_last = data.frame(time = c(1, 2, 3, 4, 5, 6), cause = c(1, 0, 2, 1, 0, 2)),
  time_zero = data.frame(time = c(0, 0, 1, 2, 3, 5), cause = c(1, 2, 1, 0, 2, 1)),
  random = data.frame(time = tt, cause = cc)
)
times <- list(small = c(0, 2, 4.5, 9, 12, 20), no_competing = c(1, 3, 8, 11),
              competing_last = c(1, 3, 6), time_zero = c(0, 1, 4, 5),
              random = c(90, 180, 365, 730))
fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.15g", v))
inputs <- do.call(rbind, lapply(names(data), function(d) cbind(dataset = d, data[[d]])))
write.csv(inputs, "cif_data.csv", row.names = FALSE, quote = FALSE)
curve <- list(); tp <- list()
for (d in names(data)) {
  df <- data[[d]]
  fit <- cuminc(df$time, df$cause, cencode = 0)
  for (nm in names(fit)) {
    if (nm == "Tests") next
    cause <- strsplit(nm, " ")[[1]][2]
    curve[[length(curve) + 1]] <- data.frame(dataset = d, cause = cause, time = fmt(fit[[nm]]$time),
                                           est = fmt(fit[[nm]]$est), var = fmt(fit[[nm]]$var))
  }
  p <- timepoints(fit, times[[d]])
  for (i in seq_len(nrow(p$est))) {
    cause <- strsplit(rownames(p$est)[i], " ")[[1]][2]
    est <- p$est[i, ]; se <- sqrt(p$var[i, ]); z <- qnorm(0.975)
    lo <- ifelse(se == 0, est, est^exp(-z * se / (est * log(est))))
    hi <- ifelse(se == 0, est, est^exp(z * se / (est * log(est))))
    tp[[length(tp) + 1]] <- data.frame(dataset = d, cause = cause, time = times[[d]],
                                       est = fmt(est), var = fmt(p$var[i, ]),
                                       lower = fmt(lo), upper = fmt(hi))
  }
}
write.csv(do.call(rbind, curve), "cif_curve.csv", row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, tp), "cif_timepoints.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "cmprsk", format(packageVersion("cmprsk")), "\n")
