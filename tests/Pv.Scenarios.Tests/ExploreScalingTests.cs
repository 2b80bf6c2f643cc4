// The benchmarks' --scaling routine (tests/Pv.Benchmarks/ExploreScaling.cs, linked in) on a tiny budget: a Z1 search
// through the `pv explore` session finds the same result on 1 and 2 workers, clean (fix on) or with the same
// counterexample (fix off). Results only: no timing is checked.
using Pv.Benchmarks;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class ExploreScalingTests
{
    [Theory]
    [InlineData("z1-gup-fast-vs-munmap-fixed.pvl", "clean", 2_000L)]
    [InlineData("z1-gup-fast-vs-munmap.pvl", "O2", null)]
    public void The_scaling_routine_finds_the_same_result_on_one_and_two_workers(string file, string verdict, long? schedules)
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", file), ZooTests.Catalog.Value);
        var runs = ExploreScaling.Measure(bound, ZooTests.Catalog.Value, 2_000, [1, 2], rounds: 1);
        Assert.Equal([1, 2], runs.Select(r => r.Jobs));
        var (one, two) = (runs[0].Outcome, runs[1].Outcome);
        Assert.Equal(verdict, one.Verdict);
        if (schedules is long n) Assert.Equal(n, one.Schedules);
        Assert.Equal(verdict != "clean", one.Counterexample is not null && one.TraceHash is not null);
        Assert.Equal(one, two);
    }
}
