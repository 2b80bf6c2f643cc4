// Two x86 fixes, one mechanism each, on the real native plugin with the fix on and off:
//  - 3ef938c35035 (CVE-2025-22045): flush_tlb_range after pmdp_collapse_flush counts as freeing tables, so a
//    lazy CPU is IPI'd and drops its paging-structure cache before pte_free;
//  - fea4e317f9e7 (CVE-2025-37964): should_flush_tlb flushes a CPU whose loaded_mm is LOADED_MM_SWITCHING, so a
//    flush between its CR3 write and loaded_mm = next still reaches it.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.Native.Tests;

public class X86HistoricFixTests
{
    [Theory]
    [InlineData("x86-native", true)]
    [InlineData("x86-native-collapse-no-freed-tables", false)]
    public void Pmdp_collapse_flush_reaches_a_lazy_cpu_only_when_flush_tlb_range_passes_freed_tables(string backend, bool lazyCpuIpid)
    {
        var m = Create(Backend(backend));
        var mm = m.CreateMm();
        var file = new AddressSpace("lib");
        var page = m.Memory.Alloc(FrameKind.DataPage);
        file.Pages[0] = page;
        mm.InsertVma(new Vma(mm, A, A + PageGeometry.Span(PageTableLevel.Pmd), VmaFlags.Read, file, 0));
        m.Memory.Get(page); // the mapping's reference
        m.PageTables.Populate(mm.Id, A, PageTableEntry.Make(page, PteFlags.Present | PteFlags.User | PteFlags.Accessed));
        foreach (var cpu in m.Cpus.All) cpu.LoadMm(mm.Id);
        Assert.True(m.PageTables.TryWalk(mm.Id, A, out var pte, out _));
        // CPU1 runs a kernel thread holding the mm lazily; its walk cache points at the PTE table.
        m.Cpus[1].WalkCache.Fill(mm.Id.Value, A, PageTableLevel.Pte, pte.Table, m.Memory.GenerationOf(pte.Table));
        m.Cpus[1].EnterLazy();
        Thread(m, mm, "khugepaged", 0, t => Khugepaged.CollapsePteMappedThp(m, t, mm, A));
        RunClean(m);

        Assert.Equal(FrameKind.Free, m.Memory.KindOf(pte.Table));             // pte_free ran
        Assert.Equal(1, m.Memory.RefCount(page));                             // the page cache keeps its page
        Assert.Equal(lazyCpuIpid ? 1 : 0, m.Metrics.IpiSent.Value);
        Assert.Equal(lazyCpuIpid, m.Cpus[1].LoadedMm == MmId.InitMm);
        Assert.Equal(!lazyCpuIpid, m.Cpus[1].WalkCache.TryLookup(mm.Id.Value, A, out _)); // fix off: still points at the freed table
    }

    [Theory]
    [InlineData("x86-native-6.12", true)]
    [InlineData("x86-native-6.12-switch-window", false)]
    public void A_flush_between_the_cr3_write_and_loaded_mm_reaches_the_switching_cpu_only_with_the_fix(string backend, bool flushed)
    {
        var m = Create(Backend(backend));
        var mm = AnonMm(m, 2);
        var other = m.CreateMm();
        Touch(m, 1, A);
        ulong genAtSwitch = 0;
        bool switching = false;
        var user = Thread(m, mm, "user", 1, t => KernelMm.SwitchMm(m, t, other));
        // switch_mm_irqs_off back to mm, held in its window until the flush below has bumped tlb_gen.
        user.Enqueue(Mark(() =>
        {
            m.Cpus[1].IrqDisable();
            genAtSwitch = mm.TlbGen;
            switching = m.PvOps.SwitchMmBegin(other.Id, mm.Id);
        }));
        user.Enqueue(WaitUntil(() => mm.TlbGen > genAtSwitch, "the flush"));
        user.Enqueue(Mark(() =>
        {
            m.PvOps.SwitchMm(other.Id, mm.Id);
            m.Cpus[1].IrqEnable();
        }));
        // One page of two: the PTE table stays, so freed_tables is false and should_flush_tlb decides.
        Thread(m, mm, "munmap", 0, _ => WaitUntil(() => switching, "CPU1 mid-switch"), t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);

        Assert.Equal(mm.Id, m.Cpus[1].LoadedMm);
        Assert.Equal(flushed ? 1 : 0, m.Metrics.IpiSent.Value);
        Assert.Equal(!flushed, m.Cpus[1].Tlb.TryLookup(mm.Id.Value, A, out _)); // fix off: the stale entry survives
        Assert.Equal(flushed, m.Cpus[1].LoadedTlbGen == mm.TlbGen);
    }
}
