"""Update-step time of every rule on the tutorial MLP's parameters: plain graph vs fused op.

The parameters of the Lasagne tutorial MLP (784-800-800-10: weights 784 x 800,
800 x 800, 800 x 10 and their biases, float32) are updated from fixed
gradients by one compiled function per rule holding only the update step,
the learning rate (and momentum) in shared variables as an estimator holds
them. Two versions of each function, compiled in sknet's C mode:

* plain: the step as PyTensor's elementwise expressions, which PyTensor fuses
  into one loop per parameter (what every rule but adam compiled to before
  :class:`sknet.ops.update_step.UpdateStep`), by including the rewrite that
  sknet's NUMBA and JAX modes use to expand the op;
* fused: one :class:`~sknet.ops.update_step.UpdateStep` per parameter, in place.

The two alternate, round by round; each figure is the median over rounds of
the mean time of ``--number`` calls. Run::

    python bench/bench_update_steps.py --rounds 7 --number 50
"""

import argparse
import statistics
import time

import numpy as np

SHAPES = [(784, 800), (800,), (800, 800), (800,), (800, 10), (10,)]

#: rule -> keyword arguments: the learning rate (shared), the momentum (shared) where the rule has one
HYPER = {
    "sgd": {"learning_rate": 0.01},
    "momentum": {"learning_rate": 0.01, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 0.01, "momentum": 0.9},
    "adagrad": {"learning_rate": 0.01},
    "rmsprop": {"learning_rate": 0.001},
    "adadelta": {"learning_rate": 1.0},
    "adam": {"learning_rate": 0.001},
    "adamax": {"learning_rate": 0.002},
    "amsgrad": {"learning_rate": 0.001},
}


def step_function(rule, plain, seed=0):
    """A compiled function ``f(*grads)`` applying one step of ``rule`` to fresh MLP parameters."""
    import pytensor
    import pytensor.tensor as T

    import sknet
    from sknet.ops.update_step import UpdateStep

    rng = np.random.default_rng(seed)
    params = [pytensor.shared((0.01 * rng.standard_normal(s)).astype("float32")) for s in SHAPES]
    grads = [T.tensor(dtype="float32", shape=(None,) * len(s)) for s in SHAPES]
    hyper = {k: pytensor.shared(np.float32(v), name=k) for k, v in HYPER[rule].items()}
    updates = getattr(sknet.updates, rule)(grads, params, **hyper)
    mode = sknet.backend.get_mode()
    if plain:
        mode = mode.including("sknet_update_step_expand")
    fn = pytensor.function(grads, [], updates=updates, mode=mode)
    steps = [n.op for n in fn.maker.fgraph.apply_nodes if isinstance(n.op, UpdateStep)]
    assert (not steps) if plain else (len(steps) == len(SHAPES) and all(op.inplace for op in steps)), steps
    fn.trust_input = True
    return fn


def time_calls(fn, args, number):
    t = time.perf_counter()
    for _ in range(number):
        fn(*args)
    return (time.perf_counter() - t) / number


def main(rules=tuple(HYPER), rounds=7, number=50):
    rng = np.random.default_rng(1)
    args = [(0.01 * rng.standard_normal(s)).astype("float32") for s in SHAPES]
    rows = []
    for rule in rules:
        fns = {"plain": step_function(rule, plain=True), "fused": step_function(rule, plain=False)}
        times = {k: [] for k in fns}
        for fn in fns.values():
            time_calls(fn, args, 3)  # warm up
        for _ in range(rounds):
            for kind, fn in fns.items():
                times[kind].append(time_calls(fn, args, number))
        plain, fused = (statistics.median(times[k]) * 1e3 for k in ("plain", "fused"))
        rows.append((rule, plain, fused))
        print(f"{rule}: plain {plain:.3f} ms, fused {fused:.3f} ms", flush=True)
    print()
    print(f"Update step of the tutorial MLP's 6 parameters (1.27 M floats); {rounds} rounds of {number} calls.")
    print()
    print("| rule | plain graph (ms) | fused op (ms) | plain / fused |")
    print("|---|---:|---:|---:|")
    for rule, plain, fused in rows:
        print(f"| {rule} | {plain:.3f} | {fused:.3f} | {plain / fused:.1f} |")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--number", type=int, default=50)
    p.add_argument("--rules", nargs="+", default=list(HYPER), choices=list(HYPER))
    a = p.parse_args()
    main(a.rules, a.rounds, a.number)
