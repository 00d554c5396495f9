"""How a run's stages execute: the driver (one loop, one writer) and the pools of replicas it feeds.

    plan (RunStore.plan)  →  synthesis replicas (one per device)  →  scoring replicas  →  commits
                    ↑ driver: batches by duration, bounded in-flight work, retries, the only writer ↓

A pool is local threads (`LocalPool`, one replica per device of this machine) or Ray actors
(`RayPool`, replicas anywhere on a cluster). Both hand back `concurrent.futures.Future`s, so the
driver (`rvcbench.execution.driver`) is the same for both. See docs/scale.md.
"""
