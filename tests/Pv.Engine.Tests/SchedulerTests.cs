using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

public class SchedulerTests
{
    private static IEnumerable<Step> Count(List<string> log, string name, int n)
    {
        for (int i = 0; i < n; i++)
        {
            log.Add($"{name}{i}");
            yield return Step.Yield;
        }
    }

    private static IEnumerable<Step> Nested(List<string> log)
    {
        log.Add("outer-a");
        yield return Step.Call(Count(log, "inner", 2));
        log.Add("outer-b");
        yield return Step.Yield;
    }

    [Fact]
    public void Code_between_yields_is_one_step_and_calls_cost_no_extra_step()
    {
        var t = new TestMachine();
        var log = new List<string>();
        var th = t.Thread("t", 0, _ => Nested(log));
        var r = t.RunSequential();
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.Equal(["outer-a", "inner0", "inner1", "outer-b"], log);
        // outer-a + inner0 share a step (the call is not a step); inner1; outer-b; then the step in which the
        // operation returns.
        Assert.Equal(4, th.StepsTaken);
    }

    [Fact]
    public void Sequential_runs_each_thread_to_completion_in_order()
    {
        var t = new TestMachine();
        var log = new List<string>();
        t.Thread("a", 0, _ => Count(log, "a", 2));
        t.Thread("b", 1, _ => Count(log, "b", 2));
        t.RunSequential();
        Assert.Equal(["a0", "a1", "b0", "b1"], log);
    }

    private static (RunResult Result, List<string> Log) RunRandom(ulong seed)
    {
        var t = new TestMachine(cpus: 3);
        var log = new List<string>();
        t.Thread("a", 0, _ => Count(log, "a", 20));
        t.Thread("b", 1, _ => Count(log, "b", 20));
        t.Thread("c", 2, _ => Count(log, "c", 20));
        return (t.M.Run(new RandomPolicy(seed)), log);
    }

    [Fact]
    public void Same_seed_same_run_bit_for_bit_and_other_seeds_differ()
    {
        var (r1, log1) = RunRandom(42);
        var (r2, log2) = RunRandom(42);
        Assert.Equal(r1.TraceHash, r2.TraceHash);
        Assert.Equal(r1.Schedule, r2.Schedule);
        Assert.Equal(log1, log2);
        var hashes = Enumerable.Range(0, 20).Select(s => RunRandom((ulong)s).Result.TraceHash).Distinct().Count();
        Assert.True(hashes > 15, $"only {hashes} distinct runs from 20 seeds");
    }

    [Fact]
    public void A_recorded_schedule_replays_to_the_same_run()
    {
        var (r1, log1) = RunRandom(7);
        var t = new TestMachine(cpus: 3);
        var log = new List<string>();
        t.Thread("a", 0, _ => Count(log, "a", 20));
        t.Thread("b", 1, _ => Count(log, "b", 20));
        t.Thread("c", 2, _ => Count(log, "c", 20));
        var r2 = t.M.Run(new ReplayPolicy(r1.Schedule));
        Assert.Equal(log1, log);
        Assert.Equal(r1.TraceHash, r2.TraceHash);
    }

    [Fact]
    public void A_schedule_that_does_not_fit_is_reported_as_diverged()
    {
        var t = new TestMachine();
        var log = new List<string>();
        t.Thread("a", 0, _ => Count(log, "a", 2));
        t.Thread("b", 1, _ => Count(log, "b", 2));
        Assert.Throws<ReplayDivergedException>(() => t.M.Run(new ReplayPolicy([0, 0, 0, 0, 1])));
    }

    [Fact]
    public void Pct_is_deterministic_per_seed_and_explores_different_orders()
    {
        List<string> Run(ulong seed)
        {
            var t = new TestMachine();
            var log = new List<string>();
            t.Thread("a", 0, _ => Count(log, "a", 10));
            t.Thread("b", 1, _ => Count(log, "b", 10));
            t.M.Run(new PctPolicy(seed, depth: 3, expectedSteps: 20));
            return log;
        }
        Assert.Equal(Run(5), Run(5));
        var firsts = Enumerable.Range(0, 30).Select(s => Run((ulong)s)[0]).Distinct().Count();
        Assert.Equal(2, firsts);
    }

    private static Machine TwoByTwo(List<string> log)
    {
        var t = new TestMachine();
        t.Thread("a", 0, _ => Count(log, "a", 2));
        t.Thread("b", 1, _ => Count(log, "b", 2));
        return t.M;
    }

    [Fact]
    public void Dfs_enumerates_every_interleaving_within_the_preemption_bound()
    {
        var seen = new HashSet<string>();
        var log = new List<string>();
        Machine Build()
        {
            if (log.Count > 0) seen.Add(string.Join(",", log));
            log.Clear();
            return TwoByTwo(log);
        }
        var r = Explorer.Explore(Build, new ExploreOptions(ExploreStrategy.Dfs, 1000, PreemptionBound: 10));
        seen.Add(string.Join(",", log));
        Assert.True(r.Exhausted);
        Assert.Equal(6, seen.Count); // C(4,2) interleavings of the four visible steps

        seen.Clear();
        log.Clear();
        var r0 = Explorer.Explore(Build, new ExploreOptions(ExploreStrategy.Dfs, 1000, PreemptionBound: 0));
        seen.Add(string.Join(",", log));
        Assert.True(r0.Exhausted);
        Assert.Equal(["a0,a1,b0,b1", "b0,b1,a0,a1"], seen.Order()); // no preemption: one thread after the other
    }

    [Fact]
    public void Explorer_stops_at_the_first_violation_and_its_schedule_replays_it()
    {
        Machine Build()
        {
            var t = new TestMachine();
            var (page, slot) = t.Map();
            t.Thread("user", 0, th => t.Access(th, TestMachine.Va, Abstractions.Mm.AccessKind.Read), th => t.Access(th, TestMachine.Va, Abstractions.Mm.AccessKind.Read));
            t.Thread("bad-munmap", 1, _ => TestMachine.Do(() =>
            {
                t.M.PageTables.Write(slot, Abstractions.Memory.PageTableEntry.Empty);
                t.M.Memory.Free(page);
                t.M.Memory.Alloc(Abstractions.Memory.FrameKind.DataPage);
            }));
            return t.M;
        }
        foreach (var strategy in new[] { ExploreStrategy.Random, ExploreStrategy.Pct, ExploreStrategy.Dfs })
        {
            var r = Explorer.Explore(Build, new ExploreOptions(strategy, 500, Seed: 1));
            Assert.NotNull(r.FirstViolation);
            Assert.Equal(Oracle.InvariantId.O1, r.FirstViolation!.Report!.Violation.Id);
            var replay = Build().Run(new ReplayPolicy(r.FirstViolation.Schedule));
            Assert.Equal(r.FirstViolation.TraceHash, replay.TraceHash);
            Assert.Equal(r.FirstViolation.Report.Violation, replay.Report!.Violation);
        }
    }

    [Fact]
    public void A_mutex_blocks_the_second_taker_until_released()
    {
        var t = new TestMachine();
        var lk = new SimMutex("ptl");
        var log = new List<string>();
        IEnumerable<Step> Critical(SimThread th, string name)
        {
            yield return Step.Call(lk.Lock(th));
            log.Add($"{name}-in");
            yield return Step.Yield;
            log.Add($"{name}-out");
            lk.Unlock(th);
            yield return Step.Yield;
        }
        t.Thread("a", 0, th => Critical(th, "a"));
        t.Thread("b", 1, th => Critical(th, "b"));
        for (ulong seed = 0; seed < 50; seed++)
        {
            var tm = new TestMachine();
            log.Clear();
            tm.Thread("a", 0, th => Critical(th, "a"));
            tm.Thread("b", 1, th => Critical(th, "b"));
            Assert.Equal(RunOutcome.Completed, tm.M.Run(new RandomPolicy(seed)).Outcome);
            Assert.True(log.IndexOf(log[0].Replace("-in", "-out")) == 1, string.Join(",", log));
        }
    }

    [Fact]
    public void A_lock_cycle_is_reported_as_a_deadlock_with_what_each_thread_waits_for()
    {
        var t = new TestMachine();
        var l1 = new SimMutex("l1");
        var l2 = new SimMutex("l2");
        IEnumerable<Step> Take(SimThread th, SimMutex first, SimMutex second)
        {
            yield return Step.Call(first.Lock(th));
            yield return Step.Call(second.Lock(th));
        }
        t.Thread("a", 0, th => Take(th, l1, l2));
        t.Thread("b", 1, th => Take(th, l2, l1));
        var r = t.M.Run(new ReplayPolicy([0, 1]));
        Assert.Equal(RunOutcome.Deadlock, r.Outcome);
        Assert.Contains("a waits for l2 held by b", r.Deadlock);
    }

    [Fact]
    public void Readers_share_an_rwsem_and_a_writer_excludes_them()
    {
        var t = new TestMachine(cpus: 3);
        var sem = new SimRwSem("mmap_lock");
        int maxReaders = 0;
        bool overlap = false;
        IEnumerable<Step> Reader(SimThread th)
        {
            yield return Step.Call(sem.DownRead(th));
            maxReaders = Math.Max(maxReaders, sem.Readers);
            overlap |= sem.Writer is not null;
            yield return Step.Yield;
            sem.UpRead();
            yield return Step.Yield;
        }
        IEnumerable<Step> Writer(SimThread th)
        {
            yield return Step.Call(sem.DownWrite(th));
            overlap |= sem.Readers > 0;
            yield return Step.Yield;
            sem.UpWrite(th);
            yield return Step.Yield;
        }
        t.Thread("r1", 0, Reader);
        t.Thread("r2", 1, Reader);
        t.Thread("w", 2, Writer);
        Assert.Equal(RunOutcome.Completed, t.M.Run(new ReplayPolicy([0, 1, 2, 0, 1, 0, 1, 2, 2])).Outcome);
        Assert.Equal(2, maxReaders);
        Assert.False(overlap);
    }
}
