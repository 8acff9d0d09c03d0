/* SPDX-License-Identifier: Apache-2.0 */
/*
 * submit_tune: whether a reactor's submission gate (submit_depth) pays on
 * the device it reads, decided from what the reactor measures.
 *
 * The gate holds a pass's SQEs until the pass ends while submit_depth or
 * more operations are in the kernel: one batch and one doorbell instead of
 * several. Whether that pays depends on the device. On one virtual disk it
 * cut a reactor's CPU per read by 20-34 % at about the same reads per
 * second; on a faster one it left the reactor stuck with bursts of about
 * 25 reads, each served more slowly than the same reads arriving a few at
 * a time: 0.78-0.85x the reads per second of the gate open (submit_us
 * alone), at the same CPU per read (docs/core.md). Counting cannot tell the
 * two apart: with IORING_SETUP_DEFER_TASKRUN the reads the device has
 * finished stay "in the kernel" until the next enter, so the count reads
 * high exactly while the gate holds.
 *
 * So the reactor tries both, now and then, and keeps what reads more. It
 * measures windows of at least SUBMIT_TUNE_WINDOW_OPS completions and
 * SUBMIT_TUNE_WINDOW_NS: completions per second and its own thread's CPU
 * per completion. Every SUBMIT_TUNE_STEADY_WINDOWS windows it runs a trial
 * of SUBMIT_TUNE_TRIAL_WINDOWS windows, alternating the choice in force and
 * the other in the order A B B A A B (a drift of the machine's speed
 * during the trial then weighs on both alike). Open wins a trial when it
 * completes at least SUBMIT_TUNE_OPEN_GAIN more per second at no more than
 * SUBMIT_TUNE_OPEN_CPU more CPU per completion; once in force, the smaller
 * KEEP margins suffice. A change takes SUBMIT_TUNE_VOTES trials in a row
 * that find against the choice in force, the second run at once: single
 * trials of 20 ms windows went against a 25 % gain now and then on noise
 * alone. A workload whose rate is set by its callers, not by the device,
 * completes the same either way: the gate stays, and its lower CPU with
 * it. A window longer than SUBMIT_TUNE_WINDOW_MAX_NS (the reactor mostly
 * idle) ends the trial without a decision.
 *
 * Pure logic, no clock and no I/O: the reactor feeds it the figures.
 */
#ifndef TAME_SUBMIT_TUNE_H
#define TAME_SUBMIT_TUNE_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SUBMIT_TUNE_WINDOW_OPS     1024u
#define SUBMIT_TUNE_WINDOW_NS      20000000ull   /* 20 ms */
#define SUBMIT_TUNE_WINDOW_MAX_NS  1000000000ull /* 1 s */
#define SUBMIT_TUNE_STEADY_WINDOWS 32u
#define SUBMIT_TUNE_TRIAL_WINDOWS  6u
/* Trials in a row that must find against the choice in force to change it;
 * the second follows the first at once. */
#define SUBMIT_TUNE_VOTES 2u
/* Open must read this much more per second (gated -> open) ... */
#define SUBMIT_TUNE_OPEN_GAIN      1.10
#define SUBMIT_TUNE_KEEP_OPEN_GAIN 1.03
/* ... at no more than this much more CPU per completion. */
#define SUBMIT_TUNE_OPEN_CPU      1.05
#define SUBMIT_TUNE_KEEP_OPEN_CPU 1.10

struct submit_tune {
	bool open; /* the choice in force between trials */
	bool in_trial;
	unsigned window; /* steady windows since the last trial, or the
	                  * trial's window being run */
	unsigned votes;  /* trials in a row against the choice in force */
	/* The trial's sums, [0] gated, [1] open. */
	uint64_t ops[2], wall_ns[2], cpu_ns[2];
	/* Counts, for stats. */
	uint64_t trials, trials_abandoned, changes, windows, open_windows;
};

/* Gated, no trial yet; the first comes after SUBMIT_TUNE_STEADY_WINDOWS. */
void submit_tune_init(struct submit_tune *t);

/* Whether the window now starting runs with the gate open. */
bool submit_tune_open_now(const struct submit_tune *t);

/* The window that ran (as submit_tune_open_now said) has ended: ops
 * completions in wall_ns, cpu_ns of the reactor thread's CPU. Returns
 * whether the next window runs open. */
bool submit_tune_window(struct submit_tune *t, uint64_t ops, uint64_t wall_ns, uint64_t cpu_ns);

#ifdef __cplusplus
}
#endif

#endif
