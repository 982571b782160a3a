"""Python's multiprocessing figures for bench_ipc: one JSON object of numbers.

  python_pipe_rtt_cross_cpu_us   round trip of a small int over a duplex Pipe to a
                                 child, parent on CPU 0 and child on the CPU given
  python_queue_8B_per_s          small ints through a Queue, one producer child
  python_queue_8B_2_to_2_per_s   the same, two producer and two consumer children
  python_queue_1MiB_GB_per_s     1 MiB bytes objects through a Queue
"""
import json
import os
import multiprocessing as mp
import sys
import time


def echo(end, other, cpu):
    os.sched_setaffinity(0, {cpu})
    other.close()  # the parent's end, inherited through fork
    try:
        while True:
            end.send(end.recv())
    except EOFError:
        pass


def pipe_rtt_us(rounds, cpu):
    os.sched_setaffinity(0, {0})
    ours, theirs = mp.Pipe()
    child = mp.get_context("fork").Process(target=echo, args=(theirs, ours, cpu))
    child.start()
    theirs.close()
    for _ in range(1000):
        ours.send(1)
        ours.recv()
    begin = time.perf_counter()
    for i in range(rounds):
        ours.send(i)
        ours.recv()
    elapsed = time.perf_counter() - begin
    ours.close()
    child.join()
    return elapsed / rounds * 1e6


def barrier_party(barrier, rounds, cpu):
    os.sched_setaffinity(0, {cpu})
    for _ in range(rounds):
        barrier.wait()


def barrier2_us(rounds, cpu):
    os.sched_setaffinity(0, {0})
    barrier = mp.Barrier(2)
    child = mp.get_context("fork").Process(target=barrier_party, args=(barrier, rounds + 100, cpu))
    child.start()
    for _ in range(100):
        barrier.wait()
    begin = time.perf_counter()
    for _ in range(rounds):
        barrier.wait()
    elapsed = time.perf_counter() - begin
    child.join()
    return elapsed / rounds * 1e6


def value_increments_per_s(count):
    value = mp.Value("q", 0)
    begin = time.perf_counter()
    for _ in range(count):
        with value.get_lock():
            value.value += 1
    return count / (time.perf_counter() - begin)


def put_items(queue, go, item, count, cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    go.wait()
    for _ in range(count):
        queue.put(item)


def get_items(queue, go, count):
    go.wait()
    for _ in range(count):
        queue.get()


def queue_items_per_s(item, count, cpu):
    os.sched_setaffinity(0, {0})
    context = mp.get_context("fork")
    queue = context.Queue()
    go = context.Event()
    child = context.Process(target=put_items, args=(queue, go, item, count, cpu))
    child.start()
    begin = time.perf_counter()
    go.set()
    for _ in range(count):
        queue.get()
    per_s = count / (time.perf_counter() - begin)
    child.join()
    return per_s


def queue_2_to_2_per_s(count):
    os.sched_setaffinity(0, set(range(os.cpu_count())))
    context = mp.get_context("fork")
    queue = context.Queue()
    go = context.Event()
    children = [context.Process(target=put_items, args=(queue, go, 8, count, -1)) for _ in range(2)]
    children += [context.Process(target=get_items, args=(queue, go, count)) for _ in range(2)]
    for child in children:
        child.start()
    begin = time.perf_counter()
    go.set()
    for child in children:
        child.join()
    return 2 * count / (time.perf_counter() - begin)


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    cpu = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    print(json.dumps({"python_pipe_rtt_cross_cpu_us": pipe_rtt_us(rounds, cpu),
                      "python_barrier2_cross_cpu_us": barrier2_us(rounds // 4, cpu),
                      "python_value_incr_per_s": value_increments_per_s(200000),
                      "python_queue_8B_per_s": queue_items_per_s(8, rounds * 5, cpu),
                      "python_queue_8B_2_to_2_per_s": queue_2_to_2_per_s(rounds * 5 // 2),
                      "python_queue_1MiB_GB_per_s":
                          queue_items_per_s(bytes(1 << 20), max(rounds // 100, 20), cpu) * (1 << 20) / 1e9}))
