"""Adaptive methods: curvature estimates and UBA's phi from them (:mod:`.curvature`,
:mod:`.phi`), refinement from a run's gradient norms (:mod:`.refine`), and population based
training on Ray Tune (:mod:`.pbt`)."""
