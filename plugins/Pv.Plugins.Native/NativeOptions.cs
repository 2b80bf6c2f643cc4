// The native backends' options, bound once per backend from the backend's plugins.json section with the Options
// pattern. Each key is an era (a kernel version) or a fix toggle of the kernel being modelled; defaults are the
// current kernel's behaviour except where the era itself is the choice. The binder converts the values; the
// validator refuses an era older than the model and a gather profile nobody defines, naming the key.
using Microsoft.Extensions.Options;
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

/// <summary>Options of one native machine (the keys of its arch profile are bound; the others keep their defaults).</summary>
public sealed record NativeOptions
{
    /// <summary>The x86 arch profile name.</summary>
    public const string X86 = "x86";

    /// <summary>The arm64 arch profile name.</summary>
    public const string Arm64 = "arm64";

    /// <summary>Cost key of arm64's MAX_DVM_OPS.</summary>
    public const string MaxDvmOps = "maxDvmOps";

    private static readonly Version V4_19 = new(4, 19), V6_12 = new(6, 12), V6_15 = new(6, 15);

    private static readonly PvOptionInfo GatherProfileInfo = new("gatherProfile",
        $"the MMU_GATHER_* knobs of another arch profile on this flush mechanism, to A/B the knobs alone: {string.Join(", ", ArchProfiles.ByName.Keys)}",
        "the backend's own (x86: by era; arm64: arm64)");

    /// <summary>Options of the x86 backend.</summary>
    public static IReadOnlyList<PvOptionInfo> X86Options { get; } =
    [
        new("era", "the kernel version, 4.19 or later: before 6.12, tables freed like pages after the waited IPI flush; 6.12–6.14, the same with mm_cpumask trimmed lazily and should_flush_tlb skipping CPUs that run another mm; 6.15 or later, that and RCU table free always", "4.19"),
        new("lazyFreedTablesIpi", "flush_tlb_multi IPIs lazy-TLB CPUs when page tables were freed, so they drop to init_mm and their walk caches; false skips them always (Z5)", "true"),
        new("flushTlbRangeFreedTables", "the flush_tlb_range macro passes freed_tables, as since 3ef938c35035 (v6.14); false: the 4.19–6.13 macro, so pmdp_collapse_flush leaves lazy CPUs' walk caches on the PTE table it frees (Z7, CVE-2025-22045)", "true"),
        new("flushSwitchingCpu", "era 6.12+: should_flush_tlb IPIs a CPU whose loaded_mm is LOADED_MM_SWITCHING, as since fea4e317f9e7; false skips a CPU between its CR3 write and loaded_mm = next (Z8, CVE-2025-37964)", "true"),
        GatherProfileInfo,
    ];

    /// <summary>Options of the arm64 backend.</summary>
    public static IReadOnlyList<PvOptionInfo> Arm64Options { get; } =
    [
        new("rcuTableFree", "free page tables after an RCU grace period; false frees them right after the broadcast TLBI (Z1)", "true"),
        new("archInvalidateSecondaryTlbs", "the arch TLB flush (and so the read-only to read-write upgrade flush) calls arch_invalidate_secondary_tlbs, as since v6.6", "true"),
        GatherProfileInfo,
    ];

    /// <summary>Costs of the arm64 backend.</summary>
    public static IReadOnlyList<PvCostInfo> Arm64Costs { get; } =
    [
        new(MaxDvmOps, "MAX_DVM_OPS: a range flush of this many pages or more is one TLBI ASIDE1IS (a kernel range: TLBI VMALLE1IS)", "pages", 512),
    ];

    /// <summary>The arch profile (the host sets <c>archProfile</c>).</summary>
    public string ArchProfile { get; init; } = X86;

    /// <summary>x86: the kernel version modelled.</summary>
    public Version Era { get; init; } = V4_19;

    /// <summary>x86: flush_tlb_multi IPIs lazy-TLB CPUs when page tables were freed.</summary>
    public bool LazyFreedTablesIpi { get; init; } = true;

    /// <summary>x86: the flush_tlb_range macro passes freed_tables (3ef938c35035).</summary>
    public bool FlushTlbRangeFreedTables { get; init; } = true;

    /// <summary>x86 6.12+: should_flush_tlb IPIs a CPU whose loaded_mm is LOADED_MM_SWITCHING (fea4e317f9e7).</summary>
    public bool FlushSwitchingCpu { get; init; } = true;

    /// <summary>The arch profile whose MMU_GATHER_* knobs to use instead of the backend's own, or null.</summary>
    public string? GatherProfile { get; init; }

    /// <summary>arm64: page tables are freed after an RCU grace period.</summary>
    public bool RcuTableFree { get; init; } = true;

    /// <summary>arm64: the arch TLB flush calls arch_invalidate_secondary_tlbs (v6.6+).</summary>
    public bool ArchInvalidateSecondaryTlbs { get; init; } = true;

    /// <summary>x86: the era's behaviour.</summary>
    public X86Era X86Era => Era >= V6_15 ? X86Era.V6_15 : Era >= V6_12 ? X86Era.V6_12 : X86Era.V4_19;

    /// <summary>The MMU_GATHER_* knobs in force.</summary>
    public MmuGatherConfig Gather
    {
        get
        {
            if (ArchProfile == Arm64)
            {
                var gather = ArchProfiles.ByName[GatherProfile ?? Arm64];
                // Immediate free keeps the table batch (TABLE_FREE) and drops only the grace period.
                return RcuTableFree ? gather : gather with { TableFree = gather.EffectiveTableFree, RcuTableFree = false };
            }
            return GatherProfile is { } profile ? ArchProfiles.ByName[profile] : X86Era < X86Era.V6_15 ? ArchProfiles.X86 : ArchProfiles.X86V615;
        }
    }

    /// <summary>Refuses an x86 era older than the model and an unknown gather profile.</summary>
    internal sealed class Validator : IValidateOptions<NativeOptions>
    {
        public ValidateOptionsResult Validate(string? name, NativeOptions options)
        {
            var failures = new List<string>();
            if (options.ArchProfile == X86 && options.Era < V4_19)
                failures.Add($"'era' {options.Era} is older than the x86 model, which starts at 4.19");
            if (options.GatherProfile is { } profile && !ArchProfiles.ByName.ContainsKey(profile))
                failures.Add($"'gatherProfile' must be one of {string.Join(", ", ArchProfiles.ByName.Keys)}");
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
