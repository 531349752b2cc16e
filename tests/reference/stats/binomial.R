# Reference values for bvall.stats.binomial (binomial proportion confidence intervals).
# Run from this folder:  Rscript binomial.R   (writes binomial.csv)
# R 4.2; base R and Hmisc (4.8.0) only.
#
# Where R itself has the method, R's function is the reference:
#   wilson           prop.test(x, n, correct = FALSE)$conf.int
#   wilson-cc        prop.test(x, n, p = p0, correct = TRUE)$conf.int with p0 far from x/n, so that
#                    R's continuity correction min(0.5, |x - n*p0|) is the full 0.5 (Newcombe 1998
#                    method 4). The column prop_test_default keeps R's default p = 0.5, which applies
#                    no correction at x = n/2 (the quirk documented in CLINICAL.md 8.1).
#   clopper-pearson  binom.test(x, n)$conf.int
#   wilson-hmisc     Hmisc::binconf(x, n, alpha = 1 - level) with its default method "wilson":
#                    the Wilson limits with Hmisc's adjustment at x = 1 (lower) and x = n - 1
#                    (upper). The cases include x = 0, 1, n - 1 and n.
# The others are written out in R from their published formulas (Newcombe 1998; Agresti & Coull
# 1998; Brown, Cai & DasGupta 2001), an implementation independent of the Python one:
#   wald, agresti-coull (both truncated to [0, 1]), jeffreys (equal-tailed Beta(x + 1/2, n - x + 1/2)
#   quantiles with L = 0 at x = 0 and U = 1 at x = n), mid-p (uniroot on pbinom/dbinom, tol 1e-14).

suppressPackageStartupMessages(library(Hmisc))

cases <- list(
  c(0, 1), c(1, 1), c(0, 2), c(1, 2), c(2, 2), c(0, 5), c(5, 5), c(1, 5), c(3, 7),
  c(5, 8), c(10, 20), c(0, 20), c(1, 29), c(6, 13), c(7, 13), c(11, 12), c(12, 13),
  c(15, 148), c(81, 263), c(50, 100), c(99, 100), c(1, 1000)
)
levels <- c(0.95, 0.90, 0.99)

midp <- function(x, n, level) {
  a <- (1 - level) / 2
  lower <- if (x == 0) 0 else uniroot(
    function(p) pbinom(x, n, p, lower.tail = FALSE) + 0.5 * dbinom(x, n, p) - a,
    c(0, 1), tol = 1e-14)$root
  upper <- if (x == n) 1 else uniroot(
    function(p) pbinom(x - 1, n, p) + 0.5 * dbinom(x, n, p) - a,
    c(0, 1), tol = 1e-14)$root
  c(lower, upper)
}

rows <- list()
add <- function(x, n, level, method, ci) {
  rows[[length(rows) + 1]] <<- data.frame(
    x = x, n = n, level = level, method = method,
    lower = sprintf("%.15g", ci[1]), upper = sprintf("%.15g", ci[2]))
}

for (case in cases) {
  x <- case[1]; n <- case[2]
  for (level in levels) {
    z <- qnorm(1 - (1 - level) / 2)
    p <- x / n
    half <- z * sqrt(p * (1 - p) / n)
    add(x, n, level, "wald", c(max(0, p - half), min(1, p + half)))
    add(x, n, level, "wilson",
        suppressWarnings(prop.test(x, n, correct = FALSE, conf.level = level)$conf.int))
    p0 <- if (p < 0.5) 0.99 else 0.01
    add(x, n, level, "wilson-cc",
        suppressWarnings(prop.test(x, n, p = p0, correct = TRUE, conf.level = level)$conf.int))
    add(x, n, level, "prop-test-default",
        suppressWarnings(prop.test(x, n, correct = TRUE, conf.level = level)$conf.int))
    nt <- n + z^2
    pt <- (x + z^2 / 2) / nt
    h <- z * sqrt(pt * (1 - pt) / nt)
    add(x, n, level, "agresti-coull", c(max(0, pt - h), min(1, pt + h)))
    add(x, n, level, "clopper-pearson", binom.test(x, n, conf.level = level)$conf.int)
    add(x, n, level, "wilson-hmisc", binconf(x, n, alpha = 1 - level)[1, c("Lower", "Upper")])
    a <- (1 - level) / 2
    add(x, n, level, "jeffreys", c(if (x == 0) 0 else qbeta(a, x + 0.5, n - x + 0.5),
                                   if (x == n) 1 else qbeta(1 - a, x + 0.5, n - x + 0.5)))
    add(x, n, level, "mid-p", midp(x, n, level))
  }
}
out <- do.call(rbind, rows)
write.csv(out, "binomial.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "; Hmisc", format(packageVersion("Hmisc")), "\n")
