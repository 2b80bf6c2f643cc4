// Z4 from mechanisms: a 2024 UML that forgets one sync mark lets a process resume (or the kernel run) on host
// mappings that disagree with the page table, and O6 says so; both eras with every mark stay clean over
// 10,000 random schedules of a fault/munmap/mprotect/vmalloc mix.
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Plugins.Uml.Tests;

public sealed class UmlZooTests
{
    [Theory]
    [InlineData("uml-no-setptes-mark")]
    [InlineData("uml-no-kernel-sync")]
    public void Z4_a_forgotten_mark_is_found_as_O6(string backend)
    {
        int seed = 0;
        var r = Explorer.Explore(() => UmlMachines.TwoProcesses(backend, seed++), new ExploreOptions(ExploreStrategy.Random, 500, Seed: 1));
        Assert.NotNull(r.FirstViolation);
        Assert.Equal(InvariantId.O6, r.FirstViolation!.Report!.Violation.Id);
    }

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
