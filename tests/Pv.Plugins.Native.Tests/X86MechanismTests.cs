// The x86 native flush one mechanism at a time, on the backend loaded from plugins.json: IPIs only to CPUs that
// may use the mm, lazy CPUs skipped unless tables were freed, tlb_gen catch-up on the way back, the 33-page
// ceiling, secondary TLBs told at the end, the two eras of the tlb_remove_table pv op, and gatherProfile.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Mm;
using Pv.Hosting.Composition;
using Pv.Plugins.Tests;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.Native.Tests;

public class X86MechanismTests
{
    [Fact]
    public void A_flush_without_freed_tables_skips_a_lazy_cpu_and_it_catches_up_when_it_switches_back()
    {
        var m = Create(Backend("x86-native"), cpus: 3);
        var mm = AnonMm(m, 2);
        Touch(m, 2, A);
        m.Cpus[2].EnterLazy();
        bool unmapped = false;
        // One page of two: the PTE table stays, so no table is freed.
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page), _ => Mark(() => unmapped = true));
        var kthread = m.AddThread("kthread", Pv.Engine.Sched.ThreadKind.Kernel, 2, null);
        ulong genWhileLazy = 0;
        kthread.Enqueue(WaitUntil(() => unmapped, "munmap"));
        kthread.Enqueue(Mark(() => genWhileLazy = m.Cpus[2].LoadedTlbGen));
        kthread.Enqueue(KernelMm.SwitchMm(m, kthread, mm));
        RunClean(m);

        Assert.Equal(1, m.Metrics.IpiSent.Value);          // CPU1 only
        Assert.Equal(1, m.Metrics.InterruptsTaken.Value);
        Assert.True(genWhileLazy < mm.TlbGen);             // CPU2 missed the flush...
        Assert.Equal(mm.TlbGen, m.Cpus[2].LoadedTlbGen);   // ...and caught up on switch_mm
        Assert.False(m.Cpus[2].Tlb.TryLookup(mm.Id.Value, A, out _));
        Assert.False(m.Cpus[2].IsLazy);
    }

    [Fact]
    public void A_flush_that_freed_tables_sends_a_lazy_cpu_to_init_mm()
    {
        var m = Create(Backend("x86-native"), cpus: 3);
        var mm = AnonMm(m, 1);
        Touch(m, 2, A);
        m.Cpus[2].EnterLazy();
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);

        Assert.Equal(2, m.Metrics.IpiSent.Value);
        Assert.Equal(MmId.InitMm, m.Cpus[2].LoadedMm);
        Assert.False(mm.CpuMask.Contains(2));
        Assert.True(mm.CpuMask.Contains(1));
    }

    [Theory]
    [InlineData(33, 66, 0)]   // at the ceiling: one INVLPG per page on each CPU
    [InlineData(34, 0, 2)]    // above it: one full flush on each CPU
    public void The_single_page_flush_ceiling_is_33_pages(int pages, long invlpgs, long fullFlushes)
    {
        var m = Create(Backend("x86-native"));
        var mm = AnonMm(m, pages + 1);
        var secondary = new RecordingSecondaryTlb();
        m.Notifiers.Register(mm.Id, secondary);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, (ulong)pages * Page));
        RunClean(m);

        Assert.Equal(invlpgs, m.Metrics.TlbFlushPage.Value);
        Assert.Equal(fullFlushes, m.Metrics.TlbFlushAsid.Value);
        // arch_invalidate_secondary_tlbs at the end of the flush, with the range actually flushed.
        var expected = fullFlushes == 0 ? (A, A + (ulong)pages * Page) : (0UL, TlbFlushInfo.FullMm);
        Assert.Equal([expected], secondary.Invalidations);
    }

    [Fact]
    public void A_remote_flush_goes_through_the_flush_tlb_multi_pv_op_and_waits_for_every_ipi()
    {
        var m = Create(Backend("x86-native"), cpus: 4);
        var mm = AnonMm(m, 2);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal(1, Count(m, CountingPvMmuOps.Prefix + "flush_tlb_multi"));
        Assert.Equal(3, m.Metrics.IpiSent.Value);
        Assert.Equal(3, m.Metrics.InterruptsTaken.Value);
    }

    [Theory]
    [InlineData("x86-native", 3, 0)]
    [InlineData("x86-native-6.15", 0, 3)]
    public void Page_tables_leave_through_the_era_s_tlb_remove_table(string backend, long freedNow, long freedRcu)
    {
        var m = Create(Backend(backend));
        var mm = AnonMm(m, 1);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal(3, Count(m, CountingPvMmuOps.Prefix + "tlb_remove_table"));
        Assert.Equal(freedNow, m.Metrics.TablesFreedNow.Value);
        Assert.Equal(freedRcu, m.Metrics.TablesFreedRcu.Value);
    }

    [Fact]
    public void Gather_profile_puts_another_arch_s_knobs_on_the_x86_flush()
    {
        long Flushes(Pv.Hosting.ResolvedBackend b)
        {
            var m = Create(b);
            var mm = m.CreateMm();
            // Two VMAs: MERGE_VMAS flushes once at the end, arm64's knobs once per VMA and once more for the freed tables.
            mm.InsertVma(new Vma(mm, A, A + Page, VmaFlags.Read | VmaFlags.Write));
            mm.InsertVma(new Vma(mm, A + Page, A + 2 * Page, VmaFlags.Read));
            m.PageTables.Populate(mm.Id, A, Pv.Abstractions.Memory.PageTableEntry.Make(m.Memory.Alloc(Pv.Abstractions.Memory.FrameKind.DataPage), UserRw));
            m.PageTables.Populate(mm.Id, A + Page, Pv.Abstractions.Memory.PageTableEntry.Make(m.Memory.Alloc(Pv.Abstractions.Memory.FrameKind.DataPage), UserRw));
            foreach (var cpu in m.Cpus.All) cpu.LoadMm(mm.Id);
            Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, 2 * Page));
            RunClean(m);
            return Count(m, CountingPvMmuOps.Prefix + "flush_tlb_multi");
        }
        Assert.Equal(1, Flushes(Backend("x86-native")));
        Assert.Equal(3, Flushes(Variant("native", "x86", """{ "gatherProfile": "arm64" }""")));
    }

    [Fact]
    public void A_bad_option_value_is_located_at_the_option_with_the_value_and_what_was_expected()
    {
        // The validator's failure: an era the x86 model does not reach.
        var e = Assert.Throws<PluginOptionsException>(() => Create(Variant("native", "x86", """{ "era": "4.14" }""")));
        Assert.Equal("'era' 4.14 is older than the x86 model, which starts at 4.19 (found '4.14')", e.Reason);
        Assert.Equal(("$.backends[0].options.era", 3), (e.Location!.JsonPath, e.Location.Line));
        Assert.StartsWith($"{e.Location}: plugin 'native', backend 'variant': ", e.Message);
        // The binder's conversion error: booleans are parsed once, by Microsoft.Extensions.Configuration.Binder.
        var g = Assert.Throws<PluginOptionsException>(() => Create(Variant("native", "arm64", """{ "rcuTableFree": "sometimes" }""")));
        Assert.Equal("option 'rcuTableFree': found 'sometimes'; expected true or false", g.Reason);
        Assert.Equal("$.backends[0].options.rcuTableFree", g.Location!.JsonPath);
    }

    [Fact]
    public void Any_kernel_version_selects_the_era_it_belongs_to()
    {
        // 6.15 is where x86 bare metal frees page tables through RCU: any later version, patch level included, is that era.
        Assert.False(Create(Variant("native", "x86", """{ "era": "6.14" }""")).Arch.GatherConfig.RcuTableFree);
        Assert.True(Create(Variant("native", "x86", """{ "era": "6.15.3" }""")).Arch.GatherConfig.RcuTableFree);
    }

    [Fact]
    public void The_declared_flush_ceiling_is_a_cost_plugins_json_can_set()
    {
        Assert.Equal(33, Create(Backend("x86-native")).Cost.Value("tlbSinglePageFlushCeiling"));
        string dll = Pv.Testing.Fixtures.Json(Backend("x86-native").Plugin.AssemblyPath);
        using var catalog = Pv.Hosting.PluginCatalog.Load(Pv.Testing.Fixtures.WriteConfig($$"""{ "name": "native", "path": {{dll}} }""",
            """{ "name": "c", "plugin": "native", "archProfile": "x86", "cost": { "tlbSinglePageFlushCeiling": 0, "ipiInitiator": 7 } }"""));
        Assert.Empty(catalog.Diagnostics);
        var m = Create(catalog.Backend("c"));
        Assert.Equal((0L, 7L), (m.Cost.Value("tlbSinglePageFlushCeiling"), m.Cost.Model.IpiInitiator));
        Assert.Throws<KeyNotFoundException>(() => m.Cost.Value("maxDvmOps"));
    }
}
