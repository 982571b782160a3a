"""Start+join latency of multiprocessing.Process per start method, for bench_process.

Prints one JSON object: {"python_<method>_start_join_us": median microseconds, ...}.
"""
import json
import multiprocessing as mp
import sys
import time


def trivial():
    pass


def measure(method, rounds):
    ctx = mp.get_context(method)
    ctx.Process(target=trivial).start()  # warm-up (starts the forkserver)
    samples = []
    for _ in range(rounds):
        begin = time.perf_counter()
        p = ctx.Process(target=trivial)
        p.start()
        p.join()
        samples.append((time.perf_counter() - begin) * 1e6)
    samples.sort()
    return samples[len(samples) // 2]


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    result = {}
    for method in mp.get_all_start_methods():
        result[f"python_{method}_start_join_us"] = measure(method, rounds)
    print(json.dumps(result))
