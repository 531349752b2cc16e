# Reference values for bvall.stats.survival (Kaplan-Meier, Greenwood, CI transforms, quantiles,
# landmarks, reverse Kaplan-Meier follow-up).
# Run from this folder:  Rscript survival.R
# R 4.2, survival 3.5.3.
#   curve:     survfit(Surv(time, status) ~ 1, conf.type = ct, conf.int = level)
#              -> time, n.risk, n.event, n.censor, surv, std.err (SE of log S), lower, upper
#   quantiles: quantile(fit, probs = c(0.25, 0.5, 0.75))  (median and its CI; R's midpoint rule)
#   landmarks: summary(fit, times = t, extend = TRUE)      (S(t), CI and number at risk at t)
#   follow-up: survfit(Surv(time, 1 - status) ~ 1) median and CI (reverse Kaplan-Meier), and
#              the crude median(time) and range(time) of every subject's observed time
# Writes km_data.csv (the inputs) and km_curve.csv, km_quantile.csv, km_landmark.csv,
# km_followup.csv. NA is written as NA.

library(survival)
set.seed(20250101)
rnd_n <- 400
rnd_t <- ceiling(rexp(rnd_n, 1 / 300))
rnd_c <- ceiling(runif(rnd_n, 30, 900))
lung2 <- survival::lung
aml2 <- survival::aml
data <- list(
  ties = data.frame(time = c(1, 2, 2, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 10, 12, 15, 15),
                    status = c(1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0)),
  time_zero = data.frame(time = c(0, 0, 1, 2, 3, 3, 5, 8), status = c(1, 0, 1, 0, 1, 1, 0, 1)),
  all_censored = data.frame(time = c(2, 4, 6, 8), status = c(0, 0, 0, 0)),
  all_events = data.frame(time = c(1, 2, 3, 4, 5), status = c(1, 1, 1, 1, 1)),
  flat_half = data.frame(time = c(1, 2, 3, 5, 6, 7), status = c(1, 1, 1, 1, 0, 0)),
  flat_half_end = data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 0, 0)),
  single = data.frame(time = c(5), status = c(1)),
  aml = data.frame(time = aml2$time, status = aml2$status),
  lung = data.frame(time = lung2$time, status = lung2$status - 1),
  random = data.frame(time = pmin(rnd_t, rnd_c), status = as.numeric(rnd_t <= rnd_c))
)
landmarks <- list(
  ties = c(0, 1, 1.5, 2, 8, 11, 15, 20), time_zero = c(0, 0.5, 3, 8, 10),
  all_censored = c(0, 3, 8, 9), all_events = c(0, 2.5, 5, 6), flat_half = c(3, 4, 7),
  flat_half_end = c(2, 4, 5), single = c(0, 5, 6), aml = c(12, 30, 100, 161, 200),
  lung = c(180, 365, 730, 1022, 2000), random = c(90, 180, 365, 730)
)
fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.15g", v))

inputs <- do.call(rbind, lapply(names(data), function(d) cbind(dataset = d, data[[d]])))
write.csv(inputs, "km_data.csv", row.names = FALSE, quote = FALSE)

curve <- list(); quant <- list(); land <- list(); fu <- list()
settings <- list(c("log", 0.95), c("log-log", 0.95), c("plain", 0.95), c("log", 0.90),
                 c("log-log", 0.99))
for (d in names(data)) {
  df <- data[[d]]
  for (s in settings) {
    ct <- s[1]; level <- as.numeric(s[2])
    fit <- survfit(Surv(time, status) ~ 1, data = df, conf.type = ct, conf.int = level)
    curve[[length(curve) + 1]] <- data.frame(
      dataset = d, conf_type = ct, level = level, time = fmt(fit$time), n_risk = fit$n.risk,
      n_event = fit$n.event, n_censor = fit$n.censor, surv = fmt(fit$surv),
      std_err = fmt(fit$std.err), lower = fmt(fit$lower), upper = fmt(fit$upper))
    q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
    quant[[length(quant) + 1]] <- data.frame(
      dataset = d, conf_type = ct, level = level, prob = c(0.25, 0.5, 0.75),
      quantile = fmt(q$quantile), lower = fmt(q$lower), upper = fmt(q$upper))
    sm <- summary(fit, times = landmarks[[d]], extend = TRUE)
    land[[length(land) + 1]] <- data.frame(
      dataset = d, conf_type = ct, level = level, time = fmt(sm$time), n_risk = sm$n.risk,
      surv = fmt(sm$surv), std_err = fmt(sm$std.err), lower = fmt(sm$lower),
      upper = fmt(sm$upper))
  }
  rev <- survfit(Surv(time, 1 - status) ~ 1, data = df)
  q <- quantile(rev, probs = 0.5)
  fu[[length(fu) + 1]] <- data.frame(dataset = d, median = fmt(q$quantile),
                                     lower = fmt(q$lower), upper = fmt(q$upper),
                                     observed_median = fmt(median(df$time)),
                                     minimum = fmt(min(df$time)), maximum = fmt(max(df$time)))
}
write.csv(do.call(rbind, curve), "km_curve.csv", row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, quant), "km_quantile.csv", row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, land), "km_landmark.csv", row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, fu), "km_followup.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "survival", format(packageVersion("survival")), "\n")
