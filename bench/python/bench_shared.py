"""Python's Manager() figures for bench_shared: one JSON object of numbers.

  python_list_append_per_s      ints appended to one Manager().list() by 2 processes
  python_dict_get_set_per_s     get + set pairs of small strings on a Manager().dict()
  python_update_item_per_s      locked read-add-write of one key by 4 processes
                                (a Manager dict has no atomic update: a Manager Lock)
  python_snapshot_100k_ms       a copy of a 100,000-int Manager().list()
"""
import json
import multiprocessing as mp
import sys
import time


def append_many(items, first, count):
    for i in range(first, first + count):
        items.append(i)


def increment(counts, lock, times):
    for _ in range(times):
        with lock:
            counts["hits"] = counts["hits"] + 1


def run_all(target, args_list):
    ctx = mp.get_context("fork")
    children = [ctx.Process(target=target, args=args) for args in args_list]
    begin = time.perf_counter()
    for c in children:
        c.start()
    for c in children:
        c.join()
    return time.perf_counter() - begin


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with mp.get_context("fork").Manager() as manager:
        each = 5000
        best = []
        for _ in range(rounds):
            items = manager.list()
            best.append(run_all(append_many, [(items, 0, each), (items, each, each)]))
        list_append = 2 * each / min(best)

        d = manager.dict()
        keys = ["k%d" % (i % 100) for i in range(5000)]
        best = []
        for _ in range(rounds):
            begin = time.perf_counter()
            for k in keys:
                d[k] = "value"
                d.get(k)
            best.append(time.perf_counter() - begin)
        get_set = len(keys) / min(best)

        times = 1000
        best = []
        for _ in range(rounds):
            counts = manager.dict({"hits": 0})
            lock = manager.Lock()
            best.append(run_all(increment, [(counts, lock, times)] * 4))
        update = 4 * times / min(best)

        big = manager.list(range(100_000))
        best = []
        for _ in range(rounds):
            begin = time.perf_counter()
            copy = big[:]
            best.append(time.perf_counter() - begin)
        snapshot = min(best)
    print(json.dumps({"python_list_append_per_s": list_append,
                      "python_dict_get_set_per_s": get_set,
                      "python_update_item_per_s": update,
                      "python_snapshot_100k_ms": snapshot * 1e3}))
