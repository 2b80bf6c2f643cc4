// KERNEL.md §9 on the native backends, loaded through plugins.json: each bug found from mechanisms when the
// fix is off (a waited IPI that is not sent, a table freed with no grace period, a walk cache left alone) and
// clean with the fix on.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.Native.Tests;

public class BugZooTests
{
    /// <summary>
    /// Z1: GUP-fast on CPU1 (IRQs off) against munmap of the same page on CPU0, which frees the page and its page
    /// tables. Meeting the freed page is harmless (try_grab_folio fails and GUP-fast falls back); walking a freed
    /// table is O2.
    /// </summary>
    private static ExploreResult Z1(string backend, int schedules)
    {
        var b = Backend(backend);
        return Explorer.Explore(() =>
        {
            var m = Create(b);
            var mm = AnonMm(m, 1);
            Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
            Thread(m, mm, "gup_fast", 1, t => Gup.GetUserPagesFast(m, t, mm, A, write: false, new GupResult()));
            return m;
        }, new ExploreOptions(ExploreStrategy.Random, schedules, Seed: 1));
    }

    [Fact]
    public void Z1_x86_waited_ipi_flush_keeps_gup_fast_off_freed_tables_over_ten_thousand_schedules()
    {
        var r = Z1("x86-native", 10_000);
        Assert.Null(r.FirstViolation?.Report?.Format());
        Assert.Equal(10_000, r.SchedulesRun);
    }

    [Fact]
    public void Z1_arm64_broadcast_tlbi_with_immediate_table_free_lets_gup_fast_walk_a_freed_table()
    {
        var r = Z1("arm64-native-immediate-free", 10_000);
        Assert.NotNull(r.FirstViolation);
        Assert.Equal(InvariantId.O2, r.FirstViolation!.Report!.Violation.Id);
    }

    [Fact]
    public void Z1_arm64_with_rcu_table_free_is_clean()
    {
        Assert.Null(Z1("arm64-native", 2_000).FirstViolation?.Report?.Format());
    }

    /// <summary>
    /// Z5: a kernel thread on CPU1 holds the mm lazily and CPU1's hardware keeps walking it speculatively while CPU0
    /// munmaps the whole mapping, freeing its page tables.
    /// </summary>
    private static ExploreResult Z5(Pv.Hosting.ResolvedBackend b, int schedules) =>
        Explorer.Explore(() =>
        {
            var m = Create(b);
            var mm = AnonMm(m, 1);
            Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
            var kthread = m.AddThread("kthread", ThreadKind.Kernel, 1, null);
            kthread.Enqueue(KernelMm.EnterLazy(m, kthread));
            var walker = m.AddThread("cpu1 hardware", ThreadKind.Hardware, 1, mm);
            walker.Enqueue(Mmu.Speculate(m, m.Cpus[1], [A], 12));
            return m;
        }, new ExploreOptions(ExploreStrategy.Random, schedules, Seed: 1));

    [Fact]
    public void Z5_skipping_lazy_cpus_when_tables_are_freed_lets_a_speculative_walk_reach_a_freed_table()
    {
        var r = Z5(Backend("x86-native-no-lazy-ipi"), 5_000);
        Assert.NotNull(r.FirstViolation);
        Assert.Equal(InvariantId.O2, r.FirstViolation!.Report!.Violation.Id);
    }

    [Theory]
    [InlineData("x86-native")]
    [InlineData("x86-native-6.15")]
    public void Z5_the_x86_flush_sends_lazy_cpus_to_init_mm_when_tables_are_freed(string backend)
    {
        var r = Z5(Backend(backend), 5_000);
        Assert.Null(r.FirstViolation?.Report?.Format());
    }

    /// <summary>
    /// Z6: the table batch cannot be allocated, so munmap on CPU0 frees the PTE table after only
    /// tlb_remove_table_sync_one while CPU1's walk cache points at it and CPU1's hardware keeps walking.
    /// </summary>
    private static ExploreResult Z6(string backend, bool batchFailureInvalidate, int schedules)
    {
        var b = Backend(backend);
        return Explorer.Explore(() =>
        {
            var m = Create(b, options: new MachineOptions { BatchFailureInvalidate = batchFailureInvalidate });
            var mm = AnonMm(m, 1);
            m.Memory.InjectFailures(AllocSite.TableBatch, 1);
            Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
            var walker = m.AddThread("cpu1 hardware", ThreadKind.Hardware, 1, mm);
            walker.Enqueue(Mmu.Speculate(m, m.Cpus[1], [A], 12));
            return m;
        }, new ExploreOptions(ExploreStrategy.Random, schedules, Seed: 1));
    }

    [Theory]
    [InlineData("x86-native-6.15")]
    [InlineData("arm64-native")]
    public void Z6_without_the_walk_cache_invalidation_a_table_freed_after_the_sync_ipi_is_walked(string backend)
    {
        var r = Z6(backend, batchFailureInvalidate: false, 2_000);
        Assert.NotNull(r.FirstViolation);
        Assert.Equal(InvariantId.O2, r.FirstViolation!.Report!.Violation.Id);
    }

    [Theory]
    [InlineData("x86-native-6.15")]
    [InlineData("arm64-native")]
    public void Z6_with_the_walk_cache_invalidation_is_clean(string backend)
    {
        Assert.Null(Z6(backend, batchFailureInvalidate: true, 2_000).FirstViolation?.Report?.Format());
    }
}
