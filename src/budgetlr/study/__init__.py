"""Study tools over the benchmark's results: analysis, reports, the results page, recommendations,
refinement of stored runs, population based training, WSD branches and LR tuning."""
