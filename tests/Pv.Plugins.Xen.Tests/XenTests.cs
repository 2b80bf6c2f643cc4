// The Xen PV backend loaded from plugins.json: flushes are hypercalls that take no guest interrupt and ignore the
// guest's IRQ state, lazy MMU mode turns an mprotect's PTE updates into one multicall, page tables leave through
// RCU (or, in the 2012 era, right after the flush), and Z1 from mechanisms.
using Pv.Abstractions.Mm;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using Pv.Hosting.Composition;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.Xen.Tests;

public class XenTests
{
    [Theory]
    [InlineData(1, false)]  // MMUEXT_INVLPG_MULTI: only that page
    [InlineData(2, true)]   // MMUEXT_TLB_FLUSH_MULTI: the vCPUs' whole user TLB
    public void A_flush_is_one_hypercall_that_reaches_vcpus_with_irqs_off_without_interrupting_them(int pages, bool wholeTlb)
    {
        var m = Create(Backend("xen-pv"), cpus: 4);
        var mm = AnonMm(m, pages + 1);
        const ulong other = A + 0x20_0000;   // another mapping, outside the flushed range
        m.PageTables.Populate(mm.Id, other, Pv.Abstractions.Memory.PageTableEntry.Make(m.Memory.Alloc(Pv.Abstractions.Memory.FrameKind.DataPage), UserRw));
        for (int cpu = 1; cpu < 4; cpu++)
        {
            Touch(m, cpu, A);
            Touch(m, cpu, other);
            m.Cpus[cpu].IrqDisable();
            Assert.True(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, other, out _), "set-up: the other page is cached");
        }
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, (ulong)pages * Page));
        RunClean(m);

        Assert.Equal(1, Count(m, CountingPvMmuOps.Prefix + "flush_tlb_multi"));
        // zap_pte_range runs in lazy MMU mode: the cleared PTEs go out as one batch (a multicall when there is more
        // than one), then the one flush.
        Assert.Equal(2, m.Metrics.Hypercalls.Value);
        Assert.Equal(pages > 1 ? 1 : 0, m.Metrics.Multicalls.Value);
        Assert.Equal(0, m.Metrics.IpiSent.Value);
        Assert.Equal(0, m.Metrics.InterruptsTaken.Value);
        for (int cpu = 1; cpu < 4; cpu++)
        {
            Assert.False(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, A, out _));
            Assert.Equal(!wholeTlb, m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, other, out _));
        }
    }

    [Fact]
    public void Lazy_mmu_mode_makes_an_mprotect_of_eight_pages_one_multicall()
    {
        var m = Create(Backend("xen-pv"));
        var mm = AnonMm(m, 8);
        Thread(m, mm, "mprotect", 0, t => Mmap.Mprotect(m, t, mm, A, 8 * Page, VmaFlags.Read));
        RunClean(m);
        Assert.Equal(8, Count(m, CountingPvMmuOps.Prefix + "set_pte"));
        Assert.Equal(1, m.Metrics.Multicalls.Value);
        Assert.Equal(2, m.Metrics.Hypercalls.Value);   // the multicall and the flush
        Assert.Equal(0, m.Metrics.IpiSent.Value);
    }

    [Theory]
    [InlineData("xen-pv", 0, 3)]
    [InlineData("xen-pv-2012", 3, 0)]
    public void Page_tables_leave_through_rcu_or_in_2012_right_after_the_flush(string backend, long freedNow, long freedRcu)
    {
        var m = Create(Backend(backend));
        var mm = AnonMm(m, 1);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal(freedNow, m.Metrics.TablesFreedNow.Value);
        Assert.Equal(freedRcu, m.Metrics.TablesFreedRcu.Value);
    }

    [Fact]
    public void A_bad_era_is_located_and_names_what_was_expected()
    {
        var e = Assert.Throws<PluginOptionsException>(() => Create(Variant("xen", "x86", """{ "era": "2010" }""")));
        Assert.Equal("option 'era': found '2010'; expected a kernel version such as 6.6 or 2.6.39", e.Reason);
        Assert.Equal(("$.backends[0].options.era", 3), (e.Location!.JsonPath, e.Location.Line));
    }

    [Fact]
    public void The_old_era_spelling_is_refused_naming_the_kernel_version()
    {
        string dll = Pv.Testing.Fixtures.Json(Backend("xen-pv").Plugin.AssemblyPath);
        using var catalog = Pv.Hosting.PluginCatalog.Load(Pv.Testing.Fixtures.WriteConfig($$"""{ "name": "xen", "path": {{dll}} }""",
            """{ "name": "old", "plugin": "xen", "archProfile": "x86", "options": { "era": "2012" } }"""));
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("$.backends[0].options.era", 3, "option 'era': '2012' was renamed '4.13'"), (d.Location!.JsonPath, d.Location.Line, d.Message));
        Assert.Empty(catalog.Backends);
    }

    [Theory]
    [InlineData("4.13", false)]
    [InlineData("4.14", true)]
    [InlineData("2.6.39", false)]
    public void Tables_go_through_rcu_from_4_14(string era, bool rcu) =>
        Assert.Equal(rcu, Create(Variant("xen", "x86", $$"""{ "era": "{{era}}" }""")).Arch.GatherConfig.RcuTableFree);

}
