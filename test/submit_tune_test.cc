// SPDX-License-Identifier: Apache-2.0
//
// submit_tune: the decision whether a reactor's submission gate stays
// (reactor/submit_tune.h), fed with the figures of a modelled device.

#include <gtest/gtest.h>

#include <vector>

#include "submit_tune.h"

namespace
{

// A device as the tuner sees it: per 20 ms window, completions and the
// reactor's CPU, for the gate held and for no depth limit.
struct Device {
	uint64_t ops_gated = 1000, ops_open = 1000;
	uint64_t cpu_per_op_gated = 10000, cpu_per_op_open = 10000; // ns
};

// Runs n windows; returns the choice each window ran with.
std::vector<bool> RunWindows(submit_tune *t, const Device &d, unsigned n)
{
	std::vector<bool> ran;
	for (unsigned i = 0; i < n; i++) {
		bool open = submit_tune_open_now(t);
		uint64_t ops = open ? d.ops_open : d.ops_gated;
		uint64_t cpu = ops * (open ? d.cpu_per_op_open : d.cpu_per_op_gated);
		ran.push_back(open);
		submit_tune_window(t, ops, SUBMIT_TUNE_WINDOW_NS, cpu);
	}
	return ran;
}

// Steady windows up to the trial, then the trial: one cycle.
constexpr unsigned kCycle = SUBMIT_TUNE_STEADY_WINDOWS + SUBMIT_TUNE_TRIAL_WINDOWS;
// A change: the steady windows, then two trials in a row.
constexpr unsigned kChange = kCycle + SUBMIT_TUNE_TRIAL_WINDOWS;

submit_tune Fresh()
{
	submit_tune t;
	submit_tune_init(&t);
	return t;
}

// A tuner that a device where open completes 30 % more has opened.
submit_tune Opened()
{
	submit_tune t = Fresh();
	Device d;
	d.ops_open = 1300;
	RunWindows(&t, d, kChange);
	EXPECT_TRUE(submit_tune_open_now(&t));
	EXPECT_EQ(1u, t.changes);
	return t;
}

TEST(SubmitTune, KeepsTheGateUntilATrialShowsOpenReadsMore)
{
	submit_tune t = Fresh();
	Device d;
	d.ops_open = 1300;
	std::vector<bool> ran = RunWindows(&t, d, SUBMIT_TUNE_STEADY_WINDOWS);
	for (bool open : ran)
		EXPECT_FALSE(open);
	EXPECT_FALSE(submit_tune_open_now(&t));
	// The first trial finds for open; the second, run at once, confirms.
	ran = RunWindows(&t, d, SUBMIT_TUNE_TRIAL_WINDOWS);
	EXPECT_EQ(1u, t.trials);
	EXPECT_EQ(0u, t.changes);
	EXPECT_FALSE(submit_tune_open_now(&t)) << "the confirming trial's first window is gated";
	RunWindows(&t, d, SUBMIT_TUNE_TRIAL_WINDOWS);
	EXPECT_TRUE(submit_tune_open_now(&t));
	EXPECT_EQ(2u, t.trials);
	EXPECT_EQ(1u, t.changes);
	// And stays open through the steady windows that follow.
	for (bool open : RunWindows(&t, d, SUBMIT_TUNE_STEADY_WINDOWS))
		EXPECT_TRUE(open);
}

TEST(SubmitTune, ATrialAlternatesTheChoicesABBAAB)
{
	submit_tune t = Fresh();
	Device d; // both alike: the gate stays, and the order is seen twice
	std::vector<bool> ran = RunWindows(&t, d, kCycle);
	std::vector<bool> trial(ran.begin() + SUBMIT_TUNE_STEADY_WINDOWS, ran.end());
	EXPECT_EQ((std::vector<bool>{false, true, true, false, false, true}), trial);
	EXPECT_FALSE(submit_tune_open_now(&t));

	// Open in force: the trial's "other" is the gate.
	submit_tune o = Opened();
	d.ops_open = 1300;
	ran = RunWindows(&o, d, kCycle);
	trial.assign(ran.begin() + SUBMIT_TUNE_STEADY_WINDOWS, ran.end());
	EXPECT_EQ((std::vector<bool>{true, false, false, true, true, false}), trial);
}

TEST(SubmitTune, KeepsTheGateWhenOpenCostsMoreCpuPerCompletion)
{
	submit_tune t = Fresh();
	Device d;
	d.ops_open = 1200;         // 20 % more per second ...
	d.cpu_per_op_open = 11000; // ... at 10 % more CPU each
	RunWindows(&t, d, 3 * kCycle);
	EXPECT_FALSE(submit_tune_open_now(&t));
	EXPECT_EQ(3u, t.trials);
	EXPECT_EQ(0u, t.changes);
}

TEST(SubmitTune, KeepsTheGateWhenTheCallersSetTheRate)
{
	submit_tune t = Fresh();
	Device d;
	d.ops_open = 1050; // 5 %: under the 10 % it takes to open
	RunWindows(&t, d, 3 * kCycle);
	EXPECT_FALSE(submit_tune_open_now(&t));
	EXPECT_EQ(0u, t.changes);
}

TEST(SubmitTune, StaysOpenForASmallerGainThanItTookToOpen)
{
	submit_tune t = Opened();
	Device d;
	d.ops_open = 1050;         // 5 %: enough to stay (3 %) ...
	d.cpu_per_op_open = 10800; // ... and 8 % more CPU, under 10 %
	RunWindows(&t, d, 2 * kCycle);
	EXPECT_TRUE(submit_tune_open_now(&t));
	EXPECT_EQ(1u, t.changes);
}

TEST(SubmitTune, ClosesTheGateAgainWhenOpenStopsPaying)
{
	submit_tune t = Opened();
	Device d; // the workload changed: no gain any more
	RunWindows(&t, d, kChange);
	EXPECT_FALSE(submit_tune_open_now(&t));
	EXPECT_EQ(2u, t.changes);
}

TEST(SubmitTune, AnIdleWindowEndsTheTrialWithoutADecision)
{
	submit_tune t = Fresh();
	Device d;
	d.ops_open = 1300;
	RunWindows(&t, d, SUBMIT_TUNE_STEADY_WINDOWS + 2);
	// The third window of the trial took more than a second.
	submit_tune_window(&t, SUBMIT_TUNE_WINDOW_OPS, SUBMIT_TUNE_WINDOW_MAX_NS + 1, 1000);
	EXPECT_FALSE(submit_tune_open_now(&t));
	EXPECT_EQ(0u, t.trials);
	EXPECT_EQ(1u, t.trials_abandoned);
	// The next trial comes after a full set of steady windows again.
	for (bool open : RunWindows(&t, d, SUBMIT_TUNE_STEADY_WINDOWS))
		EXPECT_FALSE(open);
	RunWindows(&t, d, 2 * SUBMIT_TUNE_TRIAL_WINDOWS);
	EXPECT_TRUE(submit_tune_open_now(&t));
}

TEST(SubmitTune, OneTrialAgainstTheChoiceInForceDoesNotChangeIt)
{
	submit_tune t = Fresh();
	Device d;
	d.ops_open = 1300;
	RunWindows(&t, d, kCycle); // one trial for open ...
	EXPECT_EQ(1u, t.votes);
	d.ops_open = 1000;
	RunWindows(&t, d, SUBMIT_TUNE_TRIAL_WINDOWS); // ... the next one not
	EXPECT_FALSE(submit_tune_open_now(&t));
	EXPECT_EQ(0u, t.votes);
	EXPECT_EQ(2u, t.trials);
	EXPECT_EQ(0u, t.changes);
	// Back to steady windows, gated.
	for (bool open : RunWindows(&t, d, SUBMIT_TUNE_STEADY_WINDOWS))
		EXPECT_FALSE(open);
}

TEST(SubmitTune, CountsTheWindowsRunWithNoDepthLimit)
{
	submit_tune t = Fresh();
	Device d;
	RunWindows(&t, d, kCycle);
	EXPECT_EQ(uint64_t{kCycle}, t.windows);
	EXPECT_EQ(3u, t.open_windows);
}

} // namespace
