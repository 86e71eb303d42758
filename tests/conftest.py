"""One example spec per family, with non-default keys, shared by the tests."""

EXAMPLES = {
    "uba": "uba(phi=0.5, warmup=0.05)",
    "rex": "rex(beta=0.9, warmup_steps=10)",
    "linear": "linear(floor=0.1)",
    "cosine": "cosine(warmup=0.1, floor=0.05)",
    "polynomial": "polynomial(power=2.0)",
    "step": "step(milestones=[0.5, 0.75], gamma=0.3)",
    "exponential": "exponential(floor=0.02)",
    "inverse_sqrt": "inverse_sqrt(warmup_steps=20)",
    "constant": "constant(warmup=0.05)",
    "onecycle": "onecycle",
    "wsd": "wsd(decay=0.2, shape=linear, warmup=0.05)",
    "infinite": "infinite(const=0.2, cooldown=0.2, anneal=0.2, warmup=0.05)",
    "power": "power(tokens_per_step=4096.0, batch=8.0, decay=0.1, warmup=0.05)",
    "refined": "refined(norms=[4.0, 2.0, 1.0, 1.0, 1.0, 1.0], smoothing=0.0)",
}
