// The arm64 native flush one mechanism at a time: a broadcast TLBI that interrupts nobody and does not care
// about IRQ state, a flush per VMA, the per-ASID flush from MAX_DVM_OPS pages, RCU table free, and the flush of
// a read-only to read-write upgrade that reaches secondary MMUs (v6.6+) or not (archInvalidateSecondaryTlbs).
using Pv.Abstractions.Gather;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Hosting.Composition;
using Pv.Plugins.Tests;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.Native.Tests;

public class Arm64MechanismTests
{
    [Fact]
    public void A_broadcast_tlbi_reaches_a_cpu_with_irqs_off_without_interrupting_it()
    {
        var m = Create(Backend("arm64-native"), cpus: 3);
        var mm = AnonMm(m, 2);
        Touch(m, 1, A);
        m.Cpus[1].IrqDisable();
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal(0, m.Metrics.IpiSent.Value);
        Assert.Equal(0, m.Metrics.InterruptsTaken.Value);
        Assert.Equal(1, m.Metrics.TlbBroadcast.Value);
        Assert.False(m.Cpus[1].Tlb.TryLookup(mm.Id.Value, A, out _));
    }

    [Fact]
    public void Tlb_end_vma_flushes_each_vma_and_tables_go_after_a_grace_period()
    {
        var m = Create(Backend("arm64-native"));
        var mm = AnonMm(m, 2);
        // Two VMAs over the two pages.
        Vmas.SplitAt(mm, A + Page);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, 2 * Page));
        RunClean(m);
        // One per VMA, then one for the freed tables at tlb_finish_mmu.
        Assert.Equal(3, Count(m, CountingPvMmuOps.Prefix + "flush_tlb_multi"));
        Assert.Equal(3, m.Metrics.TablesFreedRcu.Value);
        Assert.Equal(0, m.Metrics.TablesFreedNow.Value);
    }

    [Theory]
    [InlineData(511, false)]
    [InlineData(512, true)]
    public void From_max_dvm_ops_pages_the_range_becomes_one_asid_flush(int pages, bool wholeAsid)
    {
        var m = Create(Backend("arm64-native"), options: new MachineOptions { MaxGatherBatch = 1024 });
        var mm = AnonMm(m, pages + 1);
        var secondary = new RecordingSecondaryTlb();
        m.Notifiers.Register(mm.Id, secondary);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, (ulong)pages * Page));
        long before = m.Cost.Total;
        RunClean(m);
        var expected = wholeAsid ? (0UL, TlbFlushInfo.FullMm) : (A, A + (ulong)pages * Page);
        Assert.Equal(expected, secondary.Invalidations[0]);
        // Per page: 350 ns each; per ASID: one TLBI.
        Assert.Equal(wholeAsid, m.Cost.Total - before < pages * m.Cost.Model.BroadcastTlbiPerPage);
    }

    /// <summary>A write to a read-only PTE of a writable private page: do_wp_page reuses it and upgrades the PTE.</summary>
    private static (Machine M, RecordingSecondaryTlb Secondary) Upgrade(Pv.Hosting.ResolvedBackend backend)
    {
        var m = Create(backend);
        var mm = AnonMm(m, 1, UserRw & ~PteFlags.Write & ~PteFlags.Dirty);
        Touch(m, 1, A);
        var secondary = new RecordingSecondaryTlb();
        m.Notifiers.Register(mm.Id, secondary);
        Thread(m, mm, "writer", 0, t => Fault.UserAccess(m, t, A, AccessKind.Write));
        RunClean(m);
        return (m, secondary);
    }

    [Fact]
    public void A_read_only_to_read_write_upgrade_flushes_the_page_everywhere_and_secondary_tlbs()
    {
        var (m, secondary) = Upgrade(Backend("arm64-native"));
        Assert.False(m.Cpus[1].Tlb.TryLookup(m.Cpus[0].LoadedMm.Value, A, out _));
        Assert.Equal([(A, A + Page)], secondary.Invalidations);
    }

    [Fact]
    public void Before_v6_6_the_upgrade_flush_does_not_reach_secondary_tlbs()
    {
        var (m, secondary) = Upgrade(Variant("native", "arm64", """{ "archInvalidateSecondaryTlbs": false }"""));
        Assert.Equal(1, m.Metrics.TlbBroadcast.Value);
        Assert.Empty(secondary.Invalidations);
    }
}
