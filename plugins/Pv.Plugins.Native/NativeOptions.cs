// The native backends' options, read once per machine from the backend's plugins.json section. Each key is
// an era or fix toggle of the kernel being modelled; defaults are the current kernel's behaviour except
// where the era itself is the choice.
using Microsoft.Extensions.Configuration;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Native;

/// <summary>Which kernel the x86 backend models: where the tlb_remove_table pv op sends page tables.</summary>
public enum X86Era : byte
{
    /// <summary>4.19–6.11 bare metal: the pv op is <c>tlb_remove_page</c>; tables are freed after the waited IPI flush.</summary>
    V4_19,
    /// <summary>
    /// 6.12–6.14: as 4.19 for tables, but mm_cpumask is trimmed lazily (209954cbc7d0) and flush_tlb_multi asks
    /// should_flush_tlb whether a CPU runs the mm (6db2526c1d69).
    /// </summary>
    V6_12,
    /// <summary>6.15+: the pv op is gone; the generic <c>tlb_remove_table</c>, RCU-deferred (mm_cpumask as in 6.12).</summary>
    V6_15,
}

/// <summary>Options of one native machine.</summary>
/// <param name="Era">x86: the kernel era.</param>
/// <param name="LazyFreedTablesIpi">x86: flush_tlb_multi IPIs lazy-TLB CPUs when page tables were freed.</param>
/// <param name="FlushTlbRangeFreedTables">x86: the flush_tlb_range macro passes freed_tables (3ef938c35035).</param>
/// <param name="FlushSwitchingCpu">x86 6.12+: should_flush_tlb IPIs a CPU whose loaded_mm is LOADED_MM_SWITCHING (fea4e317f9e7).</param>
/// <param name="Gather">The MMU_GATHER_* knobs in force.</param>
/// <param name="ArchInvalidateSecondaryTlbs">arm64: the arch TLB flush calls arch_invalidate_secondary_tlbs (v6.6+).</param>
public sealed record NativeOptions(
    X86Era Era, bool LazyFreedTablesIpi, bool FlushTlbRangeFreedTables, bool FlushSwitchingCpu, MmuGatherConfig Gather, bool ArchInvalidateSecondaryTlbs)
{
    /// <summary>The x86 arch profile name.</summary>
    public const string X86 = "x86";

    /// <summary>The arm64 arch profile name.</summary>
    public const string Arm64 = "arm64";

    private static readonly IReadOnlyDictionary<string, X86Era> Eras = new Dictionary<string, X86Era>(StringComparer.Ordinal)
    {
        ["4.19"] = X86Era.V4_19,
        ["6.12"] = X86Era.V6_12,
        ["6.15"] = X86Era.V6_15,
    };

    private static readonly PvOptionInfo GatherProfile = new("gatherProfile",
        $"the MMU_GATHER_* knobs of another arch profile on this flush mechanism, to A/B the knobs alone: {string.Join(", ", ArchProfiles.ByName.Keys)}",
        "the backend's own (x86: by era; arm64: arm64)");

    /// <summary>Options of the x86 backend.</summary>
    public static IReadOnlyList<PvOptionInfo> X86Options { get; } =
    [
        new("era", "4.19: 4.19–6.11 bare metal, tables freed like pages after the waited IPI flush; 6.12: the same with mm_cpumask trimmed lazily and should_flush_tlb skipping CPUs that run another mm; 6.15: that and RCU table free always", "4.19"),
        new("lazyFreedTablesIpi", "flush_tlb_multi IPIs lazy-TLB CPUs when page tables were freed, so they drop to init_mm and their walk caches; false skips them always (Z5)", "true"),
        new("flushTlbRangeFreedTables", "the flush_tlb_range macro passes freed_tables, as since 3ef938c35035 (v6.14); false: the 4.19–6.13 macro, so pmdp_collapse_flush leaves lazy CPUs' walk caches on the PTE table it frees (Z7, CVE-2025-22045)", "true"),
        new("flushSwitchingCpu", "era 6.12+: should_flush_tlb IPIs a CPU whose loaded_mm is LOADED_MM_SWITCHING, as since fea4e317f9e7; false skips a CPU between its CR3 write and loaded_mm = next (Z8, CVE-2025-37964)", "true"),
        GatherProfile,
    ];

    /// <summary>Options of the arm64 backend.</summary>
    public static IReadOnlyList<PvOptionInfo> Arm64Options { get; } =
    [
        new("rcuTableFree", "free page tables after an RCU grace period; false frees them right after the broadcast TLBI (Z1)", "true"),
        new("archInvalidateSecondaryTlbs", "the arch TLB flush (and so the read-only to read-write upgrade flush) calls arch_invalidate_secondary_tlbs, as since v6.6", "true"),
        GatherProfile,
    ];

    /// <summary>Reads the options of the backend whose arch profile is in <c>archProfile</c>.</summary>
    /// <exception cref="ArgumentException">A value is not what its option expects (the message names both).</exception>
    public static NativeOptions Read(IConfiguration options)
    {
        if (options["archProfile"] == Arm64)
        {
            var gather = PluginOptions.OneOf(options, "gatherProfile", ArchProfiles.ByName, ArchProfiles.Arm64);
            // Immediate free keeps the table batch (TABLE_FREE) and drops only the grace period.
            if (!PluginOptions.Bool(options, "rcuTableFree", true))
                gather = gather with { TableFree = gather.EffectiveTableFree, RcuTableFree = false };
            return new NativeOptions(X86Era.V4_19, true, true, true, gather, PluginOptions.Bool(options, "archInvalidateSecondaryTlbs", true));
        }
        var era = PluginOptions.OneOf(options, "era", Eras, X86Era.V4_19);
        var eraGather = era < X86Era.V6_15 ? ArchProfiles.X86 : ArchProfiles.X86V615;
        return new NativeOptions(era, PluginOptions.Bool(options, "lazyFreedTablesIpi", true),
            PluginOptions.Bool(options, "flushTlbRangeFreedTables", true), PluginOptions.Bool(options, "flushSwitchingCpu", true),
            PluginOptions.OneOf(options, "gatherProfile", ArchProfiles.ByName, eraGather), true);
    }
}
