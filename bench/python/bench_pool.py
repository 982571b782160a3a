"""Python's multiprocessing.Pool figures for bench_pool: one JSON object of numbers.

  python_map_1M_items_per_s      Pool(2).map(x*x) over 1,000,000 ints
  python_map_chunk1_items_per_s  the same with chunksize=1 over 10,000 ints
  python_apply_async_get_us      one apply_async(x*x).get() after another
  python_pool4_start_ms_<method> Pool(4) made, and map(x*x, range(4), chunksize=1)
                                 answered, per start method (fork, spawn, forkserver)
"""
import json
import multiprocessing as mp
import sys
import time


def square(x):
    return x * x


def best_of(rounds, once):
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        once()
        times.append(time.perf_counter() - begin)
    return min(times)


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(square, range(1000))
        million = list(range(1_000_000))
        map_s = best_of(rounds, lambda: pool.map(square, million))
        ten_thousand = list(range(10_000))
        chunk1_s = best_of(max(1, rounds // 2), lambda: pool.map(square, ten_thousand, chunksize=1))
        calls = 500
        apply_s = best_of(rounds, lambda: [pool.apply_async(square, (i,)).get() for i in range(calls)])
    figures = {"python_map_1M_items_per_s": 1e6 / map_s,
               "python_map_chunk1_items_per_s": 1e4 / chunk1_s,
               "python_apply_async_get_us": apply_s / calls * 1e6}
    for method in mp.get_all_start_methods():
        context = mp.get_context(method)
        times = []
        for _ in range(max(3, rounds // 2)):
            begin = time.perf_counter()
            four = context.Pool(4)
            four.map(square, range(4), chunksize=1)
            times.append(time.perf_counter() - begin)
            four.close()
            four.join()
        figures["python_pool4_start_ms_" + method] = min(times) * 1e3
    print(json.dumps(figures))
