// The Hyper-V backend loaded from plugins.json, mechanism by mechanism: a remote flush is one hypercall naming the
// mm_cpumask's vCPUs, which the hypervisor completes on vCPUs with IRQs off without interrupting them; a range is
// the List call with one GVA entry per HV_TLB_FLUSH_UNIT (each charged), the whole mm or more entries than the input
// page holds the Space call; past VP 63 the Ex calls with a sparse VP set (all present vCPUs stay the plain call), or
// waited IPIs when the host does not offer Ex; page tables leave through RCU from 4.14, right after the flush in the
// 4.13 tree (Z12).
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Hosting;
using Pv.Hosting.Composition;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.HyperV.Tests;

public class HyperVTests
{
    /// <summary>HV_TLB_FLUSH_UNIT: 4096 pages.</summary>
    private const ulong FlushUnit = 4096 * Page;

    [Fact]
    public void A_range_flush_is_one_list_hypercall_to_the_mm_s_vcpus_that_reaches_irq_off_vcpus_without_interrupting_them()
    {
        var m = Create(Backend("hyperv"), cpus: 4);
        var mm = AnonMm(m, 3);
        const ulong kept = A + 2 * Page;   // in the VMA, outside the flushed page
        for (int cpu = 1; cpu < 4; cpu++)
        {
            Touch(m, cpu, A);
            Touch(m, cpu, kept);
        }
        m.Cpus[1].IrqDisable();
        m.Cpus[2].IrqDisable();
        // CPU3 switched to another mm (PCID-tagged entries of this one stay cached): not in mm_cpumask, not named.
        m.Cpus[3].LoadMm(m.CreateMm().Id);
        m.Cpus.ClearMmCpumask(mm.Id, 3);

        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);

        Assert.Equal(1, Count(m, CountingPvMmuOps.Prefix + "flush_tlb_multi"));
        Assert.Equal(1, m.Metrics.Hypercalls.Value);
        Assert.Equal(1, Count(m, "hv.flush_virtual_address_list"));
        Assert.Equal(1, Count(m, "hv.gva_range_entries"));
        Assert.Equal(0, Count(m, "hv.flush_virtual_address_space") + Count(m, "hv.flush_virtual_address_list_ex") + Count(m, "hv.vp_set_banks"));
        Assert.Equal(0, m.Metrics.IpiSent.Value);
        Assert.Equal(0, m.Metrics.InterruptsTaken.Value);
        foreach (int cpu in new[] { 1, 2 })
        {
            Assert.False(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, A, out _), $"CPU{cpu} (IRQs off) still caches the unmapped page");
            Assert.True(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, kept, out _), $"CPU{cpu} lost a page outside the GVA list");
            Assert.False(m.Cpus[cpu].IrqsEnabled);
        }
        Assert.True(m.Cpus[3].Tlb.TryLookup(mm.Id.Value, A, out _), "CPU3 was not in the VP set");
    }

    [Fact]
    public void Unmapping_the_tables_too_is_one_flush_of_the_whole_address_space()
    {
        var m = Create(Backend("hyperv"), cpus: 4);
        var mm = AnonMm(m, 2);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, 2 * Page));
        RunClean(m);
        // free_pgtables widens the range past tlb_single_page_flush_ceiling: TLB_FLUSH_ALL, the Space call.
        Assert.Equal((1, 0L, 0L), (m.Metrics.Hypercalls.Value, Count(m, "hv.flush_virtual_address_list"), Count(m, "hv.gva_range_entries")));
        Assert.Equal(1, Count(m, "hv.flush_virtual_address_space"));
        for (int cpu = 0; cpu < 4; cpu++) Assert.False(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, A, out _));
    }

    [Theory]
    [InlineData(509UL, "hv.flush_virtual_address_list", 509L)]   // max_gvas: (4096 - 24) / 8 entries fit the input page
    [InlineData(510UL, "hv.flush_virtual_address_space", 0L)]    // one unit more: the whole address space instead
    public void A_range_is_the_list_call_while_its_gva_entries_fit_the_input_page(ulong units, string call, long entries)
    {
        // The x86 ceiling raised so that flush_tlb_mm_range passes a range this large on to flush_tlb_multi.
        var m = Create(WithCosts("{}", """{ "tlbSinglePageFlushCeiling": 1000000000 }"""));
        var mm = AnonMm(m, 1);
        Thread(m, mm, "flush", 0, _ => Mark(() => m.Arch.FlushTlbMmRange(mm.Id, A, A + units * FlushUnit, 12, freedTables: false)));
        RunClean(m);
        Assert.Equal((1L, 1L, entries), (m.Metrics.Hypercalls.Value, Count(m, call), Count(m, "hv.gva_range_entries")));
    }

    [Theory]
    [InlineData(1, 1)]                 // one page
    [InlineData(4096, 1)]              // exactly HV_TLB_FLUSH_UNIT
    [InlineData(4097, 2)]              // one page more: a second, partial entry
    [InlineData(3 * 4096 + 10, 4)]
    public void Each_gva_entry_covers_up_to_4096_pages_and_costs_its_declared_time(int pages, int entries)
    {
        const string ceiling = """ "tlbSinglePageFlushCeiling": 1000000000 """;
        Machine Run(long perEntry)
        {
            var m = Create(WithCosts("{}", $$"""{ {{ceiling}}, "hvGvaRangeEntry": {{perEntry}} }"""));
            var mm = AnonMm(m, 1);
            Thread(m, mm, "flush", 0, _ => Mark(() => m.Arch.FlushTlbMmRange(mm.Id, A, A + (ulong)pages * Page, 12, freedTables: false)));
            RunClean(m);
            return m;
        }
        Machine a = Run(0), b = Run(1000);
        Assert.Equal(entries, Count(a, "hv.gva_range_entries"));
        long cheap = a.Cost.Charged(0), dear = b.Cost.Charged(0);
        Assert.Equal(entries * 1000L, dear - cheap);
    }

    [Fact]
    public void All_present_vcpus_are_the_plain_call_however_many_there_are()
    {
        var m = Create(Backend("hyperv"), cpus: 72);
        var mm = AnonMm(m, 3);
        Touch(m, 71, A);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        // HV_FLUSH_ALL_PROCESSORS: no processor mask, so VP 71 needs no sparse set.
        Assert.Equal((1L, 0L, 0L), (Count(m, "hv.flush_virtual_address_list"), Count(m, "hv.flush_virtual_address_list_ex"), Count(m, "hv.vp_set_banks")));
        Assert.False(m.Cpus[71].Tlb.TryLookup(mm.Id.Value, A, out _));
    }

    [Theory]
    [InlineData(72, 2)]     // VPs 0-71 but one: banks 0 and 1
    [InlineData(130, 3)]    // up to VP 129: banks 0, 1 and 2
    public void Past_vp_63_the_flush_is_the_ex_call_carrying_every_bank_up_to_the_highest(int cpus, int banks)
    {
        (Machine M, MmStruct Mm) Run(long perBank)
        {
            var m = Create(WithCosts("{}", $$"""{ "hvVpSetBank": {{perBank}} }"""), cpus);
            var mm = AnonMm(m, 3);
            Touch(m, cpus - 1, A);
            m.Cpus[5].LoadMm(m.CreateMm().Id);
            m.Cpus.ClearMmCpumask(mm.Id, 5);
            m.Cpus[cpus - 1].IrqDisable();
            Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
            RunClean(m);
            return (m, mm);
        }
        var (a, aMm) = Run(0);
        var (b, _) = Run(1000);
        Assert.Equal((0L, 1L, (long)banks), (Count(a, "hv.flush_virtual_address_list"), Count(a, "hv.flush_virtual_address_list_ex"), Count(a, "hv.vp_set_banks")));
        Assert.Equal(0, a.Metrics.IpiSent.Value);
        Assert.False(a.Cpus[cpus - 1].Tlb.TryLookup(aMm.Id.Value, A, out _), "the highest VP, IRQs off, was not flushed");
        long cheap = a.Cost.Charged(0), dear = b.Cost.Charged(0);
        Assert.Equal(banks * 1000L, dear - cheap);
    }

    [Fact]
    public void Without_the_ex_hint_a_flush_past_vp_63_falls_back_to_waited_ipis()
    {
        var m = Create(Variant("hyperv", "x86", """{ "exProcessorMasks": false }"""), cpus: 72);
        var mm = AnonMm(m, 3);
        m.Cpus[5].LoadMm(m.CreateMm().Id);
        m.Cpus.ClearMmCpumask(mm.Id, 5);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal((1L, 0L), (Count(m, "hv.native_flush_fallback"), m.Metrics.Hypercalls.Value));
        Assert.Equal(70, m.Metrics.IpiSent.Value);   // every CPU of the mask but the sender and CPU5
    }

    [Fact]
    public void Without_the_flush_hint_the_guest_keeps_the_native_ipis()
    {
        var m = Create(Variant("hyperv", "x86", """{ "remoteTlbFlush": false }"""), cpus: 4);
        var mm = AnonMm(m, 3);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal((0L, 3L, 0L), (m.Metrics.Hypercalls.Value, m.Metrics.IpiSent.Value, Count(m, "hv.native_flush_fallback")));
    }

    [Fact]
    public void Before_4_18_a_host_offering_the_ex_calls_gets_them_for_every_flush()
    {
        var m = Create(Backend("hyperv-4.14"), cpus: 2);
        var mm = AnonMm(m, 3);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        // Both vCPUs are all the present ones: the set is HV_GENERIC_SET_ALL, no bank carried.
        Assert.Equal((1L, 0L, 0L), (Count(m, "hv.flush_virtual_address_list_ex"), Count(m, "hv.flush_virtual_address_list"), Count(m, "hv.vp_set_banks")));
    }

    [Theory]
    [InlineData("hyperv", null, 0, 3)]
    [InlineData("hyperv-4.14", null, 0, 3)]
    [InlineData("hyperv-4.13", null, 3, 0)]                                     // 2ffd9e33ce4a's tree: Z12
    [InlineData(null, """{ "remoteTlbFlush": false }""", 3, 0)]                 // 4.19-6.14 native pv op: safe behind waited IPIs
    [InlineData(null, """{ "remoteTlbFlush": false, "era": "4.14" }""", 0, 3)]  // 4.14-4.18: every x86 kernel RCU-freed
    [InlineData(null, """{ "remoteTlbFlush": false, "era": "6.15" }""", 0, 3)]  // 6.15+: the pv op is gone, RCU always
    public void Page_tables_leave_through_rcu_from_4_14_or_right_after_the_flush_before(string? backend, string? options, long freedNow, long freedRcu)
    {
        var m = Create(backend is null ? Variant("hyperv", "x86", options!) : Backend(backend));
        var mm = AnonMm(m, 1);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal((freedNow, freedRcu), (m.Metrics.TablesFreedNow.Value, m.Metrics.TablesFreedRcu.Value));
    }

    [Fact]
    public void An_era_before_the_flush_hypercalls_is_refused_at_its_place()
    {
        var e = Assert.Throws<PluginOptionsException>(() => Create(Variant("hyperv", "x86", """{ "era": "4.12" }""")));
        Assert.Equal("'era' 4.12 is older than Hyper-V's flush hypercalls (2ffd9e33ce4a), which the model starts at 4.13 (found '4.12')", e.Reason);
        Assert.Equal(("$.backends[0].options.era", 3), (e.Location!.JsonPath, e.Location.Line));
    }

    /// <summary>A hyperv backend with <paramref name="optionsJson"/> and the <paramref name="costJson"/> costs, from a temporary plugins.json.</summary>
    private static ResolvedBackend WithCosts(string optionsJson, string costJson)
    {
        string config = Pv.Testing.Fixtures.WriteConfig(
            $$"""{ "name": "hyperv", "path": {{Pv.Testing.Fixtures.Json(Backend("hyperv").Plugin.AssemblyPath)}} }""",
            $$"""{ "name": "costed", "plugin": "hyperv", "archProfile": "x86", "options": {{optionsJson}}, "cost": {{costJson}} }""");
        var catalog = PluginCatalog.Load(config);
        Assert.Empty(catalog.Diagnostics);
        return catalog.Backend("costed");
    }
}
