// The UML plugin's mechanisms, each observed through the host mappings and counters a real machine keeps:
// set_ptes widens the sync range, flush_tlb_* only marks (2024) or syncs at once (pre-2024), the kernel range
// flush syncs init_mm before it returns, um_tlb_sync's rules (young/dirty prot, upper-level unmap, ENOMEM),
// stub round trips for user mms only, and option errors.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Hosting;
using Pv.Hosting.Composition;
using static Pv.Plugins.Uml.Tests.UmlMachines;

namespace Pv.Plugins.Uml.Tests;

public sealed class UmlMechanismTests
{
    private const ulong Va = 0x4000_0000;
    private const PteFlags YoungDirtyRw = PteFlags.Present | PteFlags.User | PteFlags.Write | PteFlags.Accessed | PteFlags.Dirty;

    private static long Counter(Machine m, string name) => m.Metrics.Counter(name).Value;

    /// <summary>set_pte_at through the engine: the pv op writes (and marks the PTE), the arch set_ptes hook marks the range.</summary>
    private static Pfn SetPtes(Machine m, MmStruct mm, ulong va, PteFlags flags)
    {
        var page = m.Memory.Alloc(FrameKind.DataPage);
        PteOps.SetPteAt(m, mm, va, m.PageTables.EnsureTable(mm.Id, va, PageTableLevel.Pte), PageTableEntry.Make(page, flags));
        return page;
    }

    /// <summary>set_pte alone: the PTE is marked, no range is.</summary>
    private static Pfn SetPteOnly(Machine m, MmStruct mm, ulong va, PteFlags flags)
    {
        var page = m.Memory.Alloc(FrameKind.DataPage);
        m.PvOps.SetPte(m.PageTables, m.PageTables.EnsureTable(mm.Id, va, PageTableLevel.Pte), PageTableEntry.Make(page, flags));
        return page;
    }

    private static HostMapping? Host(Machine m, MmStruct mm, ulong va) =>
        m.HostMappings.TryLookup(mm.Id, va, out var hm) ? hm : null;

    [Fact]
    public void Set_ptes_marks_widen_the_sync_range_and_the_sync_resets_it()
    {
        using var pv = Create("uml");
        var m = pv.Machine;
        var mm = m.CreateMm();
        var a = SetPtes(m, mm, Va, YoungDirtyRw);
        var b = SetPteOnly(m, mm, Va + 2 * Page, YoungDirtyRw);   // marked PTE between the two marked ranges
        SetPtes(m, mm, Va + 4 * Page, YoungDirtyRw);
        var d = SetPteOnly(m, mm, Va + 6 * Page, YoungDirtyRw);   // marked PTE beyond the range
        Assert.Null(Host(m, mm, Va));                             // nothing synced before the sync point

        m.Arch.ReturnToUser(mm.Id);
        Assert.Equal(a.Value << 12, Host(m, mm, Va)!.Value.Offset);
        Assert.Equal(b.Value << 12, Host(m, mm, Va + 2 * Page)!.Value.Offset);  // inside [min, max): synced
        Assert.NotNull(Host(m, mm, Va + 4 * Page));
        Assert.Null(Host(m, mm, Va + 6 * Page));                                 // outside: still pending on its PTE

        long syscalls = Counter(m, "host.syscall");
        m.Arch.ReturnToUser(mm.Id);                               // the range was reset: nothing to do
        Assert.Equal(syscalls, Counter(m, "host.syscall"));
        m.Arch.FlushTlbMmRange(mm.Id, Va + 6 * Page, Va + 7 * Page, 12, false);
        m.Arch.ReturnToUser(mm.Id);
        Assert.Equal(d.Value << 12, Host(m, mm, Va + 6 * Page)!.Value.Offset);
    }

    [Theory]
    [InlineData("uml", false)]
    [InlineData("uml-pre-2024", true)]
    public void Flush_tlb_range_only_marks_in_2024_and_syncs_at_once_before(string backend, bool eager)
    {
        using var pv = Create(backend);
        var m = pv.Machine;
        var mm = m.CreateMm();
        SetPtes(m, mm, Va, YoungDirtyRw);
        m.Arch.FlushTlbMmRange(mm.Id, Va, Va + Page, 12, false);
        m.Arch.ReturnToUser(mm.Id);
        Assert.NotNull(Host(m, mm, Va));

        m.Arch.FlushTlbMmRange(mm.Id, 0, 0, 12, false);   // make sure nothing is pending
        m.Arch.ReturnToUser(mm.Id);
        Assert.True(m.PageTables.TryWalk(mm.Id, Va, out var slot, out _));
        PteOps.GetAndClear(m, slot);
        m.Arch.FlushTlbMmRange(mm.Id, Va, Va + Page, 12, false);
        Assert.Equal(eager, Host(m, mm, Va) is null);
        m.Arch.ReturnToUser(mm.Id);
        Assert.Null(Host(m, mm, Va));
    }

    [Theory]
    [InlineData("uml", true)]
    [InlineData("uml-no-kernel-sync", false)]
    public void Kernel_range_flush_syncs_init_mm_before_it_returns(string backend, bool synced)
    {
        using var pv = Create(backend);
        var m = pv.Machine;
        ulong va = KernelMm.VmallocStart;
        SetPtes(m, m.InitMm, va, PteFlags.Present | PteFlags.Write | PteFlags.Accessed | PteFlags.Dirty);
        Assert.Null(Host(m, m.InitMm, va));
        Assert.True(m.Arch.KernelFault(va));                    // the kernel SEGV handler syncs the pending range
        Assert.Equal(HostProt.Read | HostProt.Write, Host(m, m.InitMm, va)!.Value.Prot);
        Assert.False(m.Arch.KernelFault(va));                   // nothing pending any more: a real kernel fault

        Assert.True(m.PageTables.TryWalk(MmId.InitMm, va, out var slot, out _));
        PteOps.GetAndClear(m, slot);
        m.Arch.FlushTlbKernelRange(va, va + Page);
        Assert.Equal(synced, Host(m, m.InitMm, va) is null);
        Assert.Equal(0, Counter(m, "host.stub_roundtrip"));     // the kernel's own mappings need no stub
    }

    [Theory]
    [InlineData(PteFlags.Present | PteFlags.User | PteFlags.Write, HostProt.None)]                                        // old
    [InlineData(PteFlags.Present | PteFlags.User | PteFlags.Write | PteFlags.Exec, HostProt.Exec)]                        // old, exec
    [InlineData(PteFlags.Present | PteFlags.User | PteFlags.Write | PteFlags.Accessed, HostProt.Read)]                    // young, clean
    [InlineData(YoungDirtyRw, HostProt.Read | HostProt.Write)]                                                           // young, dirty
    [InlineData(PteFlags.Present | PteFlags.User | PteFlags.Accessed | PteFlags.Dirty, HostProt.Read)]                    // read-only
    public void Sync_maps_with_the_young_dirty_prot_rule(PteFlags flags, HostProt expected)
    {
        using var pv = Create("uml");
        var m = pv.Machine;
        var mm = m.CreateMm();
        var page = SetPtes(m, mm, Va, flags);
        m.Arch.ReturnToUser(mm.Id);
        var hm = Host(m, mm, Va)!.Value;
        Assert.Equal(expected, hm.Prot);
        Assert.Equal(page.Value << PageGeometry.PageShift, hm.Offset);
        Assert.True(m.PageTables.TryWalk(mm.Id, Va, out _, out var pte));
        Assert.False(pte.Has(PteFlags.Software0));              // pte_mkuptodate
    }

    [Fact]
    public void A_cleared_upper_entry_unmaps_its_whole_span_in_one_call()
    {
        using var pv = Create("uml");
        var m = pv.Machine;
        var mm = m.CreateMm();
        for (ulong i = 0; i < 4; i++) SetPtes(m, mm, Va + i * 2 * Page, YoungDirtyRw);
        m.Arch.ReturnToUser(mm.Id);
        Assert.Equal(4, m.HostMappings.Of(mm.Id).Count);

        var pmd = m.PageTables.EnsureTable(mm.Id, Va, PageTableLevel.Pmd);
        m.PvOps.SetPte(m.PageTables, pmd, PageTableEntry.Empty);                    // pmd_clear keeps the mark
        Assert.True(m.PageTables.Read(pmd).Has(PteFlags.Software0));
        long syscalls = Counter(m, "host.syscall"), bytes = Counter(m, "host.bytes");
        ulong span = PageGeometry.Span(PageTableLevel.Pmd);
        m.Arch.FlushTlbMmRange(mm.Id, Va, Va + span, 12, true);
        m.Arch.ReturnToUser(mm.Id);
        Assert.Empty(m.HostMappings.Of(mm.Id));
        Assert.Equal(syscalls + 1, Counter(m, "host.syscall"));
        Assert.Equal(bytes + (long)span, Counter(m, "host.bytes"));
        Assert.False(m.PageTables.Read(pmd).Has(PteFlags.Software0));
    }

    [Fact]
    public void Contiguous_pages_merge_into_one_host_call_and_one_stub_round_trip()
    {
        using var pv = Create("uml");
        var m = pv.Machine;
        var mm = m.CreateMm();
        var first = SetPtes(m, mm, Va, YoungDirtyRw);
        // The next frames are consecutive in the physical-memory file only if the allocator hands them out so.
        var second = SetPtes(m, mm, Va + Page, YoungDirtyRw);
        var third = SetPtes(m, mm, Va + 2 * Page, PteFlags.Present | PteFlags.User | PteFlags.Accessed);
        m.Arch.ReturnToUser(mm.Id);
        int expected = (second.Value == first.Value + 1 ? 1 : 2) + 1;               // the read-only page never merges
        Assert.Equal(expected, Counter(m, "host.syscall"));
        Assert.Equal(1, Counter(m, "host.stub_roundtrip"));
        Assert.Equal(third.Value << 12, Host(m, mm, Va + 2 * Page)!.Value.Offset);
    }

    [Fact]
    public void Enomem_stops_the_sync_and_is_reported()
    {
        using var pv = Create("uml");
        var m = pv.Machine;
        var mm = m.CreateMm();
        m.HostMappings.MaxMappings = 1;
        SetPtes(m, mm, Va, YoungDirtyRw);
        SetPtes(m, mm, Va + 2 * Page, YoungDirtyRw);
        SetPtes(m, mm, Va + 4 * Page, YoungDirtyRw);
        SetPtes(m, mm, Va + 6 * Page, YoungDirtyRw);
        m.Arch.ReturnToUser(mm.Id);
        Assert.Equal(1, Counter(m, "uml.enomem"));
        Assert.Single(m.HostMappings.Of(mm.Id));
        Assert.Equal(2, Counter(m, "host.syscall"));                                // the walk stopped at the failure
        Assert.True(m.PageTables.TryWalk(mm.Id, Va + 6 * Page, out _, out var pte));
        Assert.True(pte.Has(PteFlags.Software0));                                   // not reached: still marked
    }

    [Fact]
    public void Pre_2024_fault_path_syncs_the_page_at_once()
    {
        using var pv = Create("uml-pre-2024");
        var m = pv.Machine;
        var mm = m.CreateMm();
        SetPtes(m, mm, Va, YoungDirtyRw);
        Assert.Null(Host(m, mm, Va));                       // set_pte only marks the PTE (_PAGE_NEWPAGE)
        Assert.True(m.PageTables.TryWalk(mm.Id, Va, out var slot, out _));
        m.Arch.UpdateMmuCache(mm.Id, Va, slot);              // where the old handle_page_fault ran flush_tlb_page
        Assert.NotNull(Host(m, mm, Va));
        Assert.Equal(1, Counter(m, "host.stub_roundtrip"));
    }

    private static PluginCatalog Catalog(string options)
    {
        string dir = Directory.CreateTempSubdirectory("pv-uml-").FullName;
        string dll = Path.Combine(RepoRoot, "artifacts", "plugins", "Pv.Plugins.Uml", "Pv.Plugins.Uml.dll");
        string json = $$"""
            { "plugins": [ { "name": "uml", "path": "{{dll.Replace("\\", "/")}}" } ],
              "backends": [ { "name": "bad", "plugin": "uml", "archProfile": "uml",
                              "options": {{options}} } ] }
            """;
        File.WriteAllText(Path.Combine(dir, "plugins.json"), json);
        return PluginCatalog.Load(Path.Combine(dir, "plugins.json"));
    }

    [Theory]
    [InlineData("""{ "era": "2023" }""", "era", "option 'era': found '2023'; expected a kernel version such as 6.6 or 2.6.39")]
    [InlineData("""{ "setPtesMark": "maybe" }""", "setPtesMark", "option 'setPtesMark': found 'maybe'; expected true or false")]
    [InlineData("""{ "era": "6.10", "kernelRangeSync": false }""", "kernelRangeSync",
        "'setPtesMark' and 'kernelRangeSync' apply from era 6.11 only: before it set_ptes kept no sync range and flush_tlb_kernel_range always synced (found 'false')")]
    public void Bad_option_values_are_refused_at_the_option(string options, string key, string reason)
    {
        using var catalog = Catalog(options);
        Assert.Empty(catalog.Diagnostics);
        var e = Assert.Throws<PluginOptionsException>(() => catalog.Backend("bad").Host.CreateMachine(new MachineOptions()));
        Assert.Equal(reason, e.Reason);
        Assert.Equal(($"$.backends[0].options.{key}", 3), (e.Location!.JsonPath, e.Location.Line));
        var d = Assert.Single(BackendHost.StartupCheck(catalog));
        Assert.Equal((e.Location, reason), (d.Location, d.Message));
    }

    [Theory]
    [InlineData("""{ "set-ptes-mark": false }""", "$.backends[0].options.set-ptes-mark", "option 'set-ptes-mark' was renamed 'setPtesMark'")]
    [InlineData("""{ "era": "pre-2024" }""", "$.backends[0].options.era", "option 'era': 'pre-2024' was renamed '6.10'")]
    [InlineData("""{ "era": "2024" }""", "$.backends[0].options.era", "option 'era': '2024' was renamed '6.11'")]
    public void Old_keys_and_era_spellings_name_the_new_ones(string options, string path, string message)
    {
        using var catalog = Catalog(options);
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal((path, 3, message), (d.Location!.JsonPath, d.Location.Line, d.Message));
        Assert.Empty(catalog.Backends);
    }
}
