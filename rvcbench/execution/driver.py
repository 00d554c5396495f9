"""The driver: feeds the plan's pending work to the synthesis and scoring pools, commits what comes back.

It alone writes the run database, one transaction per finished batch, so a killed driver, replica or
node loses at most the batches in flight, and a rerun resumes from the last commit. Work in flight is
bounded (`WINDOW` payloads per replica), so memory does not grow with the run. With `pipeline`, a
batch's clips go to the scorers as soon as they are committed, while later batches synthesize.

A payload whose replica is lost (an actor killed, a node gone) is retried up to `max_attempts`
times on the replicas that remain; then its items are recorded as failed with the reason. An error
of the stage itself (a model that cannot load) stops the run: it would fail every item the same way.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from tqdm import tqdm

from rvcbench.batching import BatchLimits, batches_by_duration
from rvcbench.execution.usage import PhaseUsage
from rvcbench.results import RunDirectory
from rvcbench.scoring.engine import SCORING_BATCH

WINDOW = 2  # payloads in flight per replica: one running, one waiting
MAX_ATTEMPTS = 3


@dataclass
class DriveStats:
    synthesized: int = 0  # items recorded by this invocation
    syntheses: int = 0  # synthesis results (clips, failures, refusals) stored by this invocation
    scored: int = 0
    clone_seconds: float = 0.0  # inside `clone` calls (per-item shares summed)
    synthesis_stage_seconds: float = 0.0  # inside synthesis replicas (clone + inputs + output checks + writes)
    scoring_seconds: float = 0.0  # inside scoring replicas (scorer models; loading excluded)
    load_seconds: float = 0.0  # loading the model and the scorer models, in every replica
    retried_payloads: int = 0
    lost_items: int = 0
    batch_sizes: dict[int, int] = field(default_factory=dict)  # size of the clone call that worked → syntheses

    def as_dict(self) -> dict:
        return {**self.__dict__, "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())}}


@dataclass
class _Pending:
    kind: str
    payload: list
    attempts: int = 1


class Driver:
    def __init__(self, run_dir: RunDirectory, *, synthesis_pool: Callable[[], object],
                 scoring_pool: Callable[[], object], scorer_versions: dict[str, str],
                 scorer_metrics: dict[str, list[str]], model: str, limits: BatchLimits, pipeline: bool = True,
                 max_attempts: int = MAX_ATTEMPTS, progress: bool = True) -> None:
        self.run_dir, self.store = run_dir, run_dir.store
        self._make_pools = {"synthesis": synthesis_pool, "scoring": scoring_pool}
        self.pools: dict[str, object] = {}
        self.versions, self.metrics, self.model = scorer_versions, scorer_metrics, model
        self.limits, self.pipeline, self.max_attempts = limits, pipeline, max_attempts
        self.progress = progress
        self._failed = 0
        self.stats = DriveStats()
        self.usage = {"synthesis": PhaseUsage(), "scoring": PhaseUsage()}  # this invocation's cost per phase
        self._inflight: dict[Future, _Pending] = {}
        self._bars: dict[str, tqdm] = {}

    # -- public ---------------------------------------------------------------------------------------------
    def run(self) -> DriveStats:
        try:
            self._synthesize_all()
            self._score_remaining()
        finally:
            for bar in self._bars.values():
                bar.close()
            for pool in self.pools.values():
                pool.close()
        return self.stats

    def missing(self, record: dict) -> tuple[str, ...]:
        """The profile's scorers whose current version has not scored this record yet."""
        done = (record.get("scorer_versions") or {}) if record.get("scored") else {}
        return tuple(name for name, version in self.versions.items() if done.get(name) != version)

    # -- synthesis ------------------------------------------------------------------------------------------
    def _synthesize_all(self) -> None:
        if not self._pending_items():  # every planned item has a record (stale ones were set aside)
            return
        work = self.store.unsynthesized()
        if not work:
            return
        batches = deque(batches_by_duration(work, self.limits))
        self._bar("synthesis", self._pending_items())
        scoring: list[tuple] = []
        while batches or self._inflight or scoring:
            while batches and self._count("synthesis") < WINDOW * self._pool("synthesis").size:
                self._submit("synthesis", self._synthesis_payload(batches.popleft()))
            synthesis_done = not batches and not self._count("synthesis")
            while scoring and (len(scoring) >= SCORING_BATCH or synthesis_done) and self._has_room("scoring"):
                chunk, scoring[:] = scoring[:SCORING_BATCH], scoring[SCORING_BATCH:]
                self._submit("scoring", chunk)
            if not self._inflight:
                continue
            for pending, results in self._collect():
                if pending.kind == "synthesis":
                    fresh = self._commit_synthesis(results, pending.payload)
                    if self.pipeline and self.versions:
                        scoring.extend(fresh)
                else:
                    self._commit_scores(results)

    def _pending_items(self) -> int:
        return self.store.plan_size() - self.store.record_count()

    def _synthesis_payload(self, keys: list[str]) -> list:
        members = self.store.items_of_synth(keys)
        payload = []
        for key in keys:
            unrecorded = [it for it in members[key] if self.store.record(it.item_id) is None]
            if unrecorded:
                payload.append((unrecorded, self.store.synth(key)))
        return payload

    def _commit_synthesis(self, results: list[dict], payload: list) -> list[tuple]:
        """Commit a batch's syntheses and records; return its ok records as scoring work."""
        synths = {r["synth_key"]: r["synth"] for r in results if r["fresh"]}
        records = [rec for r in results for rec in r["records"]]
        self.store.commit(synths=synths, records=records)
        for synth in synths.values():
            self.stats.clone_seconds += synth.get("synth_seconds", 0.0) or 0.0
            if "batch_size" in synth:
                self.stats.batch_sizes[synth["batch_size"]] = self.stats.batch_sizes.get(synth["batch_size"], 0) + 1
        self.stats.synthesized += len(records)
        self.stats.syntheses += len(synths)
        self._advance("synthesis", len(records), failed=sum(r["status"] == "failed" for r in records))
        items = {it.item_id: it for members, _ in payload for it in members}
        return [(rec, items[rec["item_id"]], self.missing(rec)) for rec in records if rec["status"] == "ok"]

    # -- scoring --------------------------------------------------------------------------------------------
    def _score_remaining(self) -> None:
        """Score every ok record some current scorer has not scored (resume, a new scorer, or no pipelining)."""
        if not self.versions or self.store.get_meta("scoring_complete") == self._complete_marker():
            return  # nothing was committed since a sweep found every record scored by these versions
        buffer: list[tuple] = []
        for chunk in self.store.iter_records("status = 'ok'"):
            todo = [(r, self.missing(r)) for r in chunk]
            todo = [(r, m) for r, m in todo if m]
            if not todo:
                continue
            items = self.store.items_by_id([r["item_id"] for r, _ in todo])
            buffer.extend((r, items[r["item_id"]], m) for r, m in todo if r["item_id"] in items)
            while len(buffer) >= SCORING_BATCH:
                self._score_submit(buffer[:SCORING_BATCH])
                del buffer[:SCORING_BATCH]
        if buffer:
            self._score_submit(buffer)
        while self._inflight:
            for _, results in self._collect():
                self._commit_scores(results)
        if not self.stats.lost_items:
            self.store.set_meta("scoring_complete", self._complete_marker())

    def _complete_marker(self) -> str:
        return json.dumps({"commits": self.store.commits(), "versions": self.versions}, sort_keys=True)

    def _score_submit(self, chunk: list[tuple]) -> None:
        self._bar("scoring", None)
        while not self._has_room("scoring"):
            for _, results in self._collect():
                self._commit_scores(results)
        self._submit("scoring", chunk)

    def _commit_scores(self, records: list[dict]) -> None:
        self.store.commit(records=records)
        self.stats.scored += len(records)
        self._advance("scoring", len(records))

    # -- futures --------------------------------------------------------------------------------------------
    def _pool(self, kind: str):
        if kind not in self.pools:
            self.pools[kind] = self._make_pools[kind]()
        return self.pools[kind]

    def _count(self, kind: str) -> int:
        return sum(p.kind == kind for p in self._inflight.values())

    def _has_room(self, kind: str) -> bool:
        return self._count(kind) < WINDOW * self._pool(kind).size

    def _submit(self, kind: str, payload: list, attempts: int = 1) -> None:
        self._inflight[self._pool(kind).submit(payload)] = _Pending(kind, payload, attempts)

    def _collect(self) -> list[tuple[_Pending, list]]:
        """Wait for at least one payload; return (payload, results) of those that finished, retrying lost ones."""
        done, _ = wait(list(self._inflight), return_when=FIRST_COMPLETED)
        finished = []
        for future in done:
            pending = self._inflight.pop(future)
            pool = self._pool(pending.kind)
            try:
                results, seconds, loading, sample = future.result()
            except pool.lost_errors as exc:
                if pending.attempts < self.max_attempts:
                    self.stats.retried_payloads += 1
                    self._submit(pending.kind, pending.payload, pending.attempts + 1)
                else:
                    finished.append((pending, self._lost(pending, exc)))
                continue
            key = "synthesis_stage_seconds" if pending.kind == "synthesis" else "scoring_seconds"
            setattr(self.stats, key, getattr(self.stats, key) + seconds - loading)
            self.stats.load_seconds += loading
            self.usage[pending.kind].add(seconds - loading, sample["device"], sample)
            finished.append((pending, results))
        return finished

    def _lost(self, pending: _Pending, exc: BaseException) -> list[dict]:
        """The payload's items as failures: its replica was lost `max_attempts` times."""
        reason = (f"replica lost {pending.attempts} times ({type(exc).__name__}: "
                  f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''})")
        if pending.kind == "scoring":
            records = []
            for record, _, missing in pending.payload:
                for name in missing:
                    record.update({metric: math.nan for metric in self.metrics.get(name, [])})
                    record[f"{name}_error"] = reason
                    record.setdefault("scorer_versions", {})[name] = self.versions[name]
                record["scored"] = True
                records.append(record)
            self.stats.lost_items += len(records)
            return records
        from rvcbench.synthesis import base_record

        results = []
        for members, _ in pending.payload:
            synth = {"status": "failed", "failure_stage": "execution", "error_type": "ReplicaLost",
                     "error_message": reason}
            results.append({"synth_key": members[0].synth_key, "synth": synth, "fresh": True,
                            "records": [{**base_record(it, self.model), **synth, "scored": False}
                                        for it in members]})
            self.stats.lost_items += len(members)
        return results

    # -- progress -------------------------------------------------------------------------------------------
    def _bar(self, kind: str, total: int | None) -> None:
        if kind not in self._bars:
            self._bars[kind] = tqdm(total=total, desc=f"{kind} {self.model}", unit="utt",
                                    disable=not self.progress)

    def _advance(self, kind: str, n: int, failed: int = 0) -> None:
        bar = self._bars.get(kind)
        if bar is None:
            self._bar(kind, None)
            bar = self._bars[kind]
        if failed:
            self._failed += failed
            bar.set_postfix(failed=self._failed)
        bar.update(n)
