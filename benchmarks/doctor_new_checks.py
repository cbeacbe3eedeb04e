"""The margins of the doctor's `continuous_reach` and `cache_bounded` checks: healthy models and the broken
ones they are for.

For every healthy model the doctor's tests hold (tests/user_policies.py's HEALTHY and
tests/healthy_shapes.py's HEALTHY_SHAPES), at inits 0 to INITS - 1, and for the zoo's bugs of each check
(tests/bug_zoo_more.py), prints each check's verdict and measured quantity (`continuous_reach`: the largest
distance of the greedy action from the target after the fit, and the Adam steps it took; `cache_bounded`:
the growth of the numbers held between pushes) as markdown tables.
Usage: python benchmarks/doctor_new_checks.py [INITS]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bug_zoo import bugs  # noqa: E402
from healthy_shapes import HEALTHY_SHAPES  # noqa: E402
from user_policies import HEALTHY  # noqa: E402

from lightup.doctor.check_base import Subject  # noqa: E402
from lightup.doctor.checks import run_static  # noqa: E402


def measure(subject: Subject, check: str = "continuous_reach") -> tuple[str, float | None, str]:
    start = time.perf_counter()
    (result,) = run_static(subject, only=(check,))
    seconds = time.perf_counter() - start
    steps = result.detail.split(" Adam steps")[0].rsplit(" ", 1)[-1] if "Adam steps" in result.detail else "-"
    return result.verdict, result.value, f"{steps} steps, {seconds:.1f} s"


def held(subjects: dict[str, Subject], inits: int) -> None:
    print("\n`cache_bounded`, healthy models:\n")
    print("| model | verdicts | largest growth |")
    print("|---|---|---|")
    for name, subject in subjects.items():
        rows = [
            measure(Subject(subject.factory, seed=s, discrete=subject.discrete), "cache_bounded")
            for s in range(inits)
        ]
        print(
            f"| {name} | {', '.join(sorted({v for v, _, _ in rows}))} | {max(v for _, v, _ in rows):g} |",
            flush=True,
        )
    print("\n`cache_bounded`, broken models:\n")
    print("| bug | verdict | growth |")
    print("|---|---|---|")
    for bug in (b for b in bugs() if b.caught_by == "cache_bounded"):
        verdict, value, _ = measure(bug.subject, "cache_bounded")
        print(f"| {bug.name} | {verdict} | {value:g} |", flush=True)


def main() -> None:
    inits = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    subjects = {name: Subject(factory) for name, factory in HEALTHY.items()}
    subjects.update(HEALTHY_SHAPES)
    print(f"`continuous_reach`, healthy models, inits 0 to {inits - 1}:\n")
    print("| model | verdicts | largest distance | fits |")
    print("|---|---|---|---|")
    for name, subject in subjects.items():
        rows = [measure(Subject(subject.factory, seed=s, discrete=subject.discrete)) for s in range(inits)]
        values = [v for _, v, _ in rows if v is not None]
        verdicts = ", ".join(sorted({v for v, _, _ in rows}))
        largest = f"{max(values):.4f}" if values else "(no continuous twin)"
        print(f"| {name} | {verdicts} | {largest} | {'; '.join(f for _, _, f in rows)} |", flush=True)
    print("\n`continuous_reach`, broken models:\n")
    print("| bug | verdict | distance | fit |")
    print("|---|---|---|---|")
    broken = [(b.name, b.subject) for b in bugs() if not b.subject.discrete]
    for name, subject in broken:
        verdict, value, fit = measure(subject)
        print(f"| {name} | {verdict} | {value:.4f} | {fit} |", flush=True)
    held(subjects, inits)


if __name__ == "__main__":
    main()
