// A search resets one machine per worker instead of building one per schedule (Machine.Reset through
// CompiledScenario.Build). These tests hold it to what makes that safe: over every scenario the repository
// ships (every zoo entry, with its backend, its SMMU, its workload), a run on a machine that has just run other
// schedules — clean ones, violating ones, deadlocked ones — is the run a new machine makes: the same outcome,
// steps, schedule, trace hash, violation and every counter, simulated time included. And no plugin object
// lives on into the next schedule.
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class MachineResetTests
{
    public static TheoryData<string> Scenarios() =>
    [
        .. Directory.GetFiles(Path.Combine(Fixtures.RepoRoot, "scenarios"), "*.pvl", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Fixtures.RepoRoot, f)).Order(StringComparer.Ordinal),
    ];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void A_reset_machine_runs_every_schedule_as_a_new_one(string file)
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, file), ZooTests.Catalog.Value);
        using var reused = bound.Compile(seed: 0);
        // PCT and random schedules in turn, so the reused machine has run violating, clean and deadlocked schedules
        // of every shape before each compared one.
        for (ulong seed = 0; seed < 24; seed++)
        {
            ISchedulePolicy Policy() => seed % 2 == 0 ? new PctPolicy(seed, 3, 64) : new RandomPolicy(seed);
            var again = Run(reused, Policy());
            using var fresh = bound.Compile(seed: 0);
            var expected = Run(fresh, Policy());
            Assert.Equal(expected.Outcome, again.Outcome);
            Assert.Equal(expected.Steps, again.Steps);
            Assert.Equal(expected.Schedule, again.Schedule);
            Assert.Equal(expected.TraceHash, again.TraceHash);
            Assert.Equal(expected.Violation, again.Violation);
            Assert.Equal(expected.Error, again.Error);
            Assert.Equal(expected.Metrics, again.Metrics);
        }
    }

    [Fact]
    public void No_plugin_object_lives_on_into_the_next_schedule()
    {
        // Every backend: the plugin objects of a reset machine's scope are new ones, and the old scope is disposed.
        foreach (var backend in ZooTests.Catalog.Value.Backends.Where(b => b.Host.ProvidesCpuMmu))
        {
            using var machine = backend.Host.CreateMachine(new MachineOptions());
            var before = (Ops: machine.Machine.PvOps, Arch: machine.Machine.Arch, machine.Services);
            machine.Reset();
            Assert.NotSame(before.Ops, machine.Machine.PvOps);
            Assert.NotSame(before.Arch, machine.Machine.Arch);
            Assert.Throws<ObjectDisposedException>(() => before.Services.GetService(typeof(Pv.Abstractions.Mm.IPvMmuOps)));
        }
    }

    private sealed record Observed(RunOutcome Outcome, long Steps, IReadOnlyList<int> Schedule, ulong TraceHash, string? Violation, string? Error, IReadOnlyDictionary<string, long> Metrics);

    private static Observed Run(CompiledScenario compiled, ISchedulePolicy policy)
    {
        var m = compiled.Build();
        try
        {
            var summary = RunSummary.Of(m, m.Run(policy));
            var r = summary.Result;
            return new Observed(r.Outcome, r.Steps, r.Schedule, r.TraceHash, r.Report?.Format(), r.Deadlock, summary.Metrics);
        }
        catch (Exception e) when (e is ProgramException or PluginFaultException)
        {
            // A scenario that a schedule refuses (an operation the program cannot take in that order) must be refused
            // at the same step on a reset machine.
            return new Observed(default, m.Schedule.Count, [.. m.Schedule], 0, null, e.Message, new Dictionary<string, long>());
        }
    }
}
