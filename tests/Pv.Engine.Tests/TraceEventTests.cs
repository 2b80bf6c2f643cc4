// Every kind of traced event reads in kernel terms with its operands labelled, the violation report names the
// schedule by entity, and interrupt-context work lands in a trace of its own. That labelling never touches the run
// hash is pinned in Pv.Scenarios.Tests (TraceHashPinTests).
using System.Reflection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

public sealed class TraceEventTests
{
    /// <summary>Every kind the catalogue holds: its fields, the per-level set_* kinds, and one of each per-driver kind.</summary>
    public static TheoryData<string> Kinds() => [.. All().Select(k => k.Name)];

    private static IEnumerable<TraceEvent> All()
    {
        var fields = typeof(TraceEvents).GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public);
        return fields.Select(f => f.GetValue(null)).OfType<TraceEvent>()
            .Concat(fields.Select(f => f.GetValue(null)).OfType<TraceEvent[]>().SelectMany(a => a))
            .Concat([TraceEvents.MirrorInvalidate("drv"), TraceEvents.MirrorReadRetry("drv"), TraceEvents.MirrorInstalled("drv")]);
    }

    // The kinds that carry nothing but their name.
    private static readonly string[] Bare = ["tlb_remove_table_sync_one", "cmd_sync"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_kind_labels_its_operands(string name)
    {
        var kind = All().Single(k => k.Name == name);
        string operands = kind.Operands(0x40001000, 1, 0x40002000);
        if (Bare.Contains(name)) Assert.Equal("", operands);
        else Assert.Matches(@"^[a-z_]+=\S", operands);
    }

    [Fact]
    public void Kinds_have_distinct_names()
    {
        var names = All().Select(k => k.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void Events_read_as_the_kernel_names_them()
    {
        var pte = PageTableEntry.Make(new Pfn(5), PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed);
        Assert.Equal("set_pte addr=0x40001000 pte=pfn 0x5 rw user young [table 0x3 #1]",
            new TraceEntry(0, TraceEvents.SetEntry[(int)PageTableLevel.Pte], 0x3001, pte.Raw, 0x40001000).Text);
        Assert.Equal("set_pmd addr=0x40000000 pmd=table 0x4 [table 0x2 #0]",
            new TraceEntry(0, TraceEvents.SetEntry[(int)PageTableLevel.Pmd], 0x2000, PageTableEntry.Make(new Pfn(4), PteFlags.Present | PteFlags.Write).Raw, 0x40000000).Text);
        Assert.Equal("set_pte pte=none [table 0x3 #1]", new TraceEntry(0, TraceEvents.SetEntry[0], 0x3001, 0, TraceEvents.NoAddress).Text);
        var vcpus = new CpuMask();
        vcpus.Set(1);
        vcpus.Set(2);
        Assert.Equal("hypercall cmd=MMUEXT_TLB_FLUSH_MULTI vcpus={1,2}",
            new TraceEntry(0, TraceEvents.HypercallOp, (ulong)HypercallCommand.TlbFlushMulti, 0, TraceEvents.CpuBits(vcpus)).Text);
        Assert.Equal("tlb_gather_mmu_fullmm mm=1 tlb_flush_pending=1", new TraceEntry(0, TraceEvents.TlbGatherMmuFullmm, 1, 1, 0).Text);
        Assert.Equal("tlb_flush fullmm", new TraceEntry(0, TraceEvents.TlbFlush, 0, ulong.MaxValue, 0).Text);
        Assert.Equal("tlb invalidate kind=range start=0x40000000 end=0x40002000",
            new TraceEntry(0, TraceEvents.TlbInvalidate, 0x40000000, (ulong)TlbInvalidationKind.Range, 0x40002000).Text);
        Assert.Equal("#7 VIOLATION invariant=O2 addr=0x40000000", new TraceEntry(7, TraceEvents.Violation, (ulong)Oracle.InvariantId.O2, 0x40000000, 0).ToString());
    }

    [Fact]
    public void A_cpu_mask_beyond_cpu_62_is_marked_not_dropped()
    {
        var mask = new CpuMask();
        mask.Set(0);
        mask.Set(200);
        Assert.Equal("{0,63..}", TraceEvents.Cpus(TraceEvents.CpuBits(mask)));
    }

    [Fact]
    public void The_schedule_reads_by_entity_name_in_runs()
    {
        Assert.Equal("unmapper×3 walker unmapper×2 irq1",
            ViolationReport.NamedSchedule([0, 0, 0, 1, 0, 0, 2], ["unmapper", "walker", "irq1"]));
    }
}
