# Operating characteristics of BF-BOIN and BOIN from R bfboin 0.1.1 (openpharma/bfboin) with
# BOIN 2.7.2, R 4.2.2: the settings of Zhao et al. (2024) Table 3/4 as bfboin's vignette
# "Compare to publication" runs them (target 0.25, 10 cohorts of 3, n.earlystop 9, n.cap 12,
# 3 patients a month with uniform accrual, a one-month window, Weibull DLT times).
# BOIN = the same conduct with no backfill (response probabilities 0: no dose ever opens).
# Usage: Rscript bfboin_oc.R NTRIAL OUT.json
library(bfboin)
args <- commandArgs(trailingOnly = TRUE)
ntrial <- as.integer(args[1])
out_file <- args[2]
dlt <- list(c(0.25, 0.41, 0.45, 0.49, 0.53), c(0.12, 0.25, 0.42, 0.49, 0.55),
            c(0.04, 0.12, 0.25, 0.43, 0.63), c(0.02, 0.06, 0.1, 0.25, 0.4),
            c(0.02, 0.05, 0.08, 0.11, 0.25), c(0.12, 0.25, 0.42, 0.49, 0.55),
            c(0.04, 0.12, 0.25, 0.43, 0.63), c(0.02, 0.06, 0.1, 0.25, 0.4),
            c(0.02, 0.05, 0.08, 0.11, 0.25), c(0.04, 0.12, 0.25, 0.43, 0.63),
            c(0.02, 0.06, 0.1, 0.25, 0.4), c(0.02, 0.05, 0.08, 0.11, 0.25))
resp <- list(c(0.3, 0.4, 0.45, 0.5, 0.55), c(0.2, 0.3, 0.4, 0.5, 0.6),
             c(0.1, 0.2, 0.3, 0.45, 0.58), c(0.05, 0.1, 0.15, 0.3, 0.45),
             c(0.05, 0.1, 0.15, 0.2, 0.3), c(0.3, 0.35, 0.36, 0.36, 0.36),
             c(0.15, 0.3, 0.35, 0.36, 0.36), c(0.10, 0.2, 0.3, 0.35, 0.35),
             c(0.10, 0.15, 0.2, 0.3, 0.35), c(0.3, 0.32, 0.35, 0.36, 0.36),
             c(0.1, 0.3, 0.32, 0.35, 0.36), c(0.1, 0.15, 0.3, 0.32, 0.35))
one <- function(p, q, seed) {
  set.seed(seed)
  # the trials in order, as get.oc.bf's purrr::map_df calls them (the same random stream)
  res <- do.call(rbind, lapply(1:ntrial, sim.one.trial, target = 0.25, p.true = p,
                               ncohort = 10, cohortsize = 3, n.earlystop = 9, startdose = 1,
                               n.cap = 12, n.per.month = 3, dlt.window = 1,
                               p.response.true = q, accrual = "uniform",
                               backfill.assign = "highest"))
  by_trial <- split(res, res$trial.id)
  n <- sapply(by_trial, function(x) sum(x$n))
  sel <- sapply(by_trial, function(x) x$dselect[1])
  dur <- sapply(by_trial, function(x) x$max.t[1])
  mtd <- which(p == 0.25)
  correct <- as.numeric(sel == mtd)
  list(correct_pct = 100 * mean(correct), correct_se = 100 * sd(correct) / sqrt(ntrial),
       n_mean = mean(n), n_se = sd(n) / sqrt(ntrial),
       duration_months = mean(dur), duration_se = sd(dur) / sqrt(ntrial),
       selection_pct = sapply(1:5, function(i) 100 * mean(sel == i)),
       stop_pct = 100 * mean(sel == 99))
}
out <- list()
for (k in 1:12) {
  out[[sprintf("S%d_BF-BOIN", k)]] <- one(dlt[[k]], resp[[k]], 1000 + k)
  if (k <= 5) out[[sprintf("S%d_BOIN", k)]] <- one(dlt[[k]], rep(0, 5), 2000 + k)
}
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = 8), out_file)
