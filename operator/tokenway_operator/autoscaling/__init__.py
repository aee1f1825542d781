"""The autoscaler: Prometheus signals -> a pure decision -> the pool Deployment's replicas.

* :mod:`.bounds`: the replica range a pool may use, and its size before any decision;
* :mod:`.history`: what the decision remembers (kept in the pool's status, so it survives restarts);
* :mod:`.decision`: the pure decision (HPA rule, stabilization, rate limits, panic mode, scale to zero);
* :mod:`.queries` and :mod:`.prometheus`: the PromQL and the batched, off-loop Prometheus client;
* :mod:`.loop`: one tick of one pool (read signals, decide, scale, record) and the kopf timer.
"""
