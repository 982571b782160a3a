"""Python's multiprocessing figures for bench_ipc: one JSON object of numbers.

  python_pipe_rtt_cross_cpu_us   round trip of a small int over a duplex Pipe to a
                                 child, parent on CPU 0 and child on the CPU given
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


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    cpu = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    print(json.dumps({"python_pipe_rtt_cross_cpu_us": pipe_rtt_us(rounds, cpu),
                      "python_barrier2_cross_cpu_us": barrier2_us(rounds // 4, cpu),
                      "python_value_incr_per_s": value_increments_per_s(200000)}))
