/* SPDX-License-Identifier: Apache-2.0 */
#include "submit_tune.h"

#include <string.h>

/* Of a trial's windows, those that run the other choice: A B B A A B. */
static const bool trial_other[SUBMIT_TUNE_TRIAL_WINDOWS] = {false, true, true, false, false, true};

void submit_tune_init(struct submit_tune *t)
{
	memset(t, 0, sizeof(*t));
}

bool submit_tune_open_now(const struct submit_tune *t)
{
	return t->in_trial ? t->open != trial_other[t->window] : t->open;
}

/* At the trial's end: does open win, by the margins of the choice in force? */
static bool open_wins(const struct submit_tune *t)
{
	double gain = t->open ? SUBMIT_TUNE_KEEP_OPEN_GAIN : SUBMIT_TUNE_OPEN_GAIN;
	double cpu = t->open ? SUBMIT_TUNE_KEEP_OPEN_CPU : SUBMIT_TUNE_OPEN_CPU;
	double rate_gated, rate_open, cpu_gated, cpu_open;

	if (!t->ops[0] || !t->ops[1] || !t->wall_ns[0] || !t->wall_ns[1])
		return t->open;
	rate_gated = (double)t->ops[0] / (double)t->wall_ns[0];
	rate_open = (double)t->ops[1] / (double)t->wall_ns[1];
	cpu_gated = (double)t->cpu_ns[0] / (double)t->ops[0];
	cpu_open = (double)t->cpu_ns[1] / (double)t->ops[1];
	return rate_open >= rate_gated * gain && cpu_open <= cpu_gated * cpu;
}

static void start_trial(struct submit_tune *t)
{
	t->in_trial = true;
	t->window = 0;
	memset(t->ops, 0, sizeof(t->ops));
	memset(t->wall_ns, 0, sizeof(t->wall_ns));
	memset(t->cpu_ns, 0, sizeof(t->cpu_ns));
}

bool submit_tune_window(struct submit_tune *t, uint64_t ops, uint64_t wall_ns, uint64_t cpu_ns)
{
	bool ran_open = submit_tune_open_now(t);

	t->windows++;
	t->open_windows += ran_open;
	if (!t->in_trial) {
		if (++t->window >= SUBMIT_TUNE_STEADY_WINDOWS)
			start_trial(t);
		return submit_tune_open_now(t);
	}
	if (wall_ns > SUBMIT_TUNE_WINDOW_MAX_NS) {
		/* Mostly idle: what the window measured is the callers, not
		 * the device. */
		t->trials_abandoned++;
		t->votes = 0;
		t->in_trial = false;
		t->window = 0;
		return t->open;
	}
	t->ops[ran_open] += ops;
	t->wall_ns[ran_open] += wall_ns;
	t->cpu_ns[ran_open] += cpu_ns;
	if (++t->window < SUBMIT_TUNE_TRIAL_WINDOWS)
		return submit_tune_open_now(t);
	t->trials++;
	t->window = 0;
	if (open_wins(t) == t->open) {
		t->votes = 0;
		t->in_trial = false;
	} else if (++t->votes < SUBMIT_TUNE_VOTES) {
		start_trial(t); /* against the choice in force: confirm at once */
	} else {
		t->votes = 0;
		t->in_trial = false;
		t->open = !t->open;
		t->changes++;
	}
	return submit_tune_open_now(t);
}
