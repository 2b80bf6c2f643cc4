using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Cpu;
using Pv.Engine.Host;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

public class MmuTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void A_tlb_miss_walks_one_level_per_step_then_hits(int levels)
    {
        var t = new TestMachine(levels: levels);
        var (page, _) = t.Map(flags: PteFlags.Present | PteFlags.User | PteFlags.Write);
        var first = new AccessResult();
        var second = new AccessResult();
        var th = t.Thread("user", 0, x => t.Access(x, TestMachine.Va, AccessKind.Read, first));
        t.RunSequential();
        Assert.Equal(levels + 1, th.StepsTaken); // one step per level, then the step in which the access returns
        Assert.Equal((AccessStatus.Ok, page, false), (first.Status, first.Pfn, first.TlbHit));
        Assert.Equal(1, t.M.Metrics.TlbMisses.Value);
        Assert.True(t.M.Cpus[0].Tlb.TryLookup(t.Mm.Id.Value, TestMachine.Va, out var hit));
        Assert.Equal(page, hit.Pfn);
        Assert.True(t.M.Cpus[0].WalkCache.TryLookup(t.Mm.Id.Value, TestMachine.Va, out var wc));
        Assert.Equal(PageTableLevel.Pte, wc.TableLevel);
    }

    [Fact]
    public void The_walk_sets_accessed_and_a_write_through_a_clean_entry_walks_again_to_set_dirty()
    {
        var t = new TestMachine();
        var (_, slot) = t.Map(flags: PteFlags.Present | PteFlags.User | PteFlags.Write);
        var read = new AccessResult();
        var write = new AccessResult();
        t.Thread("user", 0, x => t.Access(x, TestMachine.Va, AccessKind.Read, read), x => t.Access(x, TestMachine.Va, AccessKind.Write, write));
        t.RunSequential();
        var pte = new PageTableEntry(t.M.Memory.Entries(slot.Table)[slot.Index]);
        Assert.True(pte.Has(PteFlags.Accessed | PteFlags.Dirty));
        Assert.False(write.TlbHit);
        Assert.Equal(2, t.M.Metrics.Walks.Value);
    }

    [Fact]
    public void A_write_through_a_read_only_tlb_entry_is_a_protection_fault_without_a_walk()
    {
        var t = new TestMachine();
        t.Map(flags: PteFlags.Present | PteFlags.User | PteFlags.Accessed);
        var write = new AccessResult();
        t.Thread("user", 0, x => t.Access(x, TestMachine.Va, AccessKind.Read), x => t.Access(x, TestMachine.Va, AccessKind.Write, write));
        t.RunSequential();
        Assert.Equal(AccessStatus.Protection, write.Status);
        Assert.Equal(1, t.M.Metrics.Walks.Value);
    }

    /// <summary>
    /// Z6's mechanism: CPU1's walk cache keeps a pointer to a PTE table; CPU0 unhooks the table, invalidates TLBs
    /// (with or without walk caches) and frees it; CPU1's speculative walker then starts from the cached pointer.
    /// </summary>
    private static RunResult WalkCacheAfterFree(bool invalidateWalkCaches)
    {
        var t = new TestMachine();
        var (_, pteSlot) = t.Map();
        t.M.PageTables.TryWalk(t.Mm.Id, TestMachine.Va, out _, out _);
        // Prime CPU1's caches with a walk, outside the run.
        var cpu1 = t.M.Cpus[1];
        cpu1.WalkCache.Fill(t.Mm.Id.Value, TestMachine.Va, PageTableLevel.Pte, pteSlot.Table, t.M.Memory.GenerationOf(pteSlot.Table));
        var freed = new Gate();
        t.Thread("munmap", 0, _ => FreeTable());
        var spec = t.M.AddThread("cpu1-speculation", ThreadKind.Hardware, 1, t.Mm);
        spec.Enqueue(WaitThen(freed, Mmu.Speculate(t.M, cpu1, [TestMachine.Va], 1)));
        IEnumerable<Step> FreeTable()
        {
            t.M.PageTables.EnsureTable(t.Mm.Id, TestMachine.Va, PageTableLevel.Pmd);
            var pmd = PageTablesTestAccess.ParentOf(t, TestMachine.Va);
            t.M.PageTables.Write(pmd, PageTableEntry.Empty);
            var inv = TlbInvalidation.Range(t.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, walkCaches: invalidateWalkCaches);
            t.M.Ipi.SendIpi(t.M.Cpus.Online, cpu => cpu.Invalidate(inv), wait: true);
            yield return Step.Yield;
            t.M.Memory.Free(pteSlot.Table);
            t.M.Memory.Alloc(FrameKind.PageTable);
            freed.Open();
            yield return Step.Yield;
        }
        return t.RunSequential();
    }

    private static IEnumerable<Step> WaitThen(Gate g, IEnumerable<Step> then)
    {
        yield return Step.Wait(g);
        yield return Step.Call(then);
    }

    [Fact]
    public void O2_a_walk_cache_pointer_to_a_freed_table_is_found_without_walk_cache_invalidation()
    {
        var r = WalkCacheAfterFree(invalidateWalkCaches: false);
        Assert.Equal(RunOutcome.Violation, r.Outcome);
        Assert.Equal(InvariantId.O2, r.Report!.Violation.Id);
        Assert.Contains("walk-cache hit", r.Report.Violation.Message);
    }

    [Fact]
    public void O2_is_silent_when_the_invalidation_drops_walk_caches()
    {
        Assert.Equal(RunOutcome.Completed, WalkCacheAfterFree(invalidateWalkCaches: true).Outcome);
    }

    [Fact]
    public void A_lazy_cpu_keeps_its_mm_loaded_and_switching_to_init_mm_drops_its_walk_cache()
    {
        var t = new TestMachine();
        var cpu1 = t.M.Cpus[1];
        cpu1.WalkCache.Fill(t.Mm.Id.Value, TestMachine.Va, PageTableLevel.Pte, new Pfn(1), 0);
        cpu1.EnterLazy();
        Assert.True(cpu1.IsLazy);
        Assert.Equal(t.Mm.Id, cpu1.LoadedMm);
        Assert.True(t.M.Cpus.MmCpumask(t.Mm.Id).Contains(1));
        cpu1.SwitchToInitMm();
        Assert.Equal(MmId.InitMm, cpu1.LoadedMm);
        Assert.False(cpu1.WalkCache.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _));
    }

    [Fact]
    public void Broadcast_invalidation_reaches_every_cpu_without_interrupts()
    {
        var t = new TestMachine(cpus: 4);
        foreach (var cpu in t.M.Cpus.All)
        {
            cpu.Tlb.Fill(t.Mm.Id.Value, TestMachine.Va, PageTableLevel.Pte, new Pfn(1), 0, PteFlags.Present);
            cpu.IrqDisable();
        }
        var snooped = new List<TlbInvalidation>();
        t.M.Cpus.AddBroadcastObserver(new Snooper(snooped));
        t.M.Cpus.BroadcastInvalidate(TlbInvalidation.Page(t.Mm.Id, TestMachine.Va));
        Assert.Equal([TlbInvalidation.Page(t.Mm.Id, TestMachine.Va)], snooped);
        Assert.All(t.M.Cpus.All, cpu => Assert.False(cpu.Tlb.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _)));
        Assert.Equal(0, t.M.Metrics.InterruptsTaken.Value);
        Assert.Equal(t.M.Cost.Model.BroadcastTlbiPerPage, t.M.Cost.Total);
    }

    [Fact]
    public void Engine_host_services_resolve_in_a_scope_bound_to_one_machine()
    {
        var t = new TestMachine();
        using var root = new ServiceCollection().AddPvEngine().BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        using var scope = root.CreateScope();
        var sp = scope.ServiceProvider;
        sp.GetRequiredService<MachineScope>().Bind(t.M);
        Assert.Same(t.M, sp.GetRequiredService<Machine>());
        Assert.Same(t.M.Cpus, sp.GetRequiredService<ICpus>());
        Assert.Same(t.M.Memory, sp.GetRequiredService<IFrames>());
        sp.GetRequiredService<IMetrics>().Counter("plugin.thing").Increment();
        Assert.Equal(1, t.M.Metrics.Counter("plugin.thing").Value);
        foreach (var type in new[] { typeof(IIpi), typeof(IHypervisor), typeof(IRcu), typeof(IWaits), typeof(IPageTables), typeof(IHostMappings), typeof(IDeviceDmaPort), typeof(ICost), typeof(IMmuNotifierRegistry) })
            Assert.NotNull(sp.GetRequiredService(type));
    }
}

internal sealed class Snooper(List<TlbInvalidation> seen) : ITlbBroadcastObserver
{
    public void OnBroadcastInvalidate(in TlbInvalidation invalidation) => seen.Add(invalidation);
}

internal static class PageTablesTestAccess
{
    public static PteSlot ParentOf(TestMachine t, ulong va) => t.M.PageTables.EnsureTable(t.Mm.Id, va, PageTableLevel.Pmd);
}
