// Both UML eras with every sync mark stay clean over 10,000 random schedules of a two-process
// fault/munmap/mprotect/vmalloc mix. (Z4's broken variants are scenarios/zoo/z4-*.pvl, run by the zoo test.)
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Plugins.Uml.Tests;

public sealed class UmlMixTests
{
    [Theory]
    [InlineData("uml")]
    [InlineData("uml-pre-2024")]
    public void Both_eras_with_every_mark_are_clean_over_10000_random_schedules(string backend)
    {
        int seed = 0;
        var r = Explorer.Explore(() => UmlMachines.TwoProcesses(backend, seed++), new ExploreOptions(ExploreStrategy.Random, 10_000, Seed: 7));
        Assert.True(r.FirstViolation is null, r.FirstViolation?.Report?.Format());
        Assert.Equal(10_000, r.SchedulesRun);
    }
}
