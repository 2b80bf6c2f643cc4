// A RISC-V backend as a third party would write it, out of tree, against the contract package only.
// Remote TLB flushes (flush_tlb_mm_range / flush_tlb_kernel_range in arch/riscv/mm/tlbflush.c) go either through the
// SBI RFENCE extension (sbi_remote_sfence_vma_asid: the firmware fences the target harts below S-mode, so an IRQ-off
// section does not hold it off) or, on machines whose S-mode can send IPIs itself, through waited IPIs
// (on_each_cpu_mask). Page tables follow riscv_tlb_remove_ptdesc: through RCU (tlb_remove_ptdesc) when fences go
// through SBI, with the pages right after the flush (tlb_remove_page_ptdesc) when they are IPIs. The series that gave
// riscv GUP-fast (Linux 6.8) enabled MMU_GATHER_RCU_TABLE_FREE with it for exactly this reason; `rcuTableFree: false`
// is what GUP-fast without it would have been.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pv.Abstractions.Plugins;

namespace RiscVSbi;

/// <summary>The plugin's entry point: one backend (riscv), its options and costs.</summary>
public sealed class RiscVSbiPlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "riscv-sbi";

    /// <inheritdoc/>
    public Version Version { get; } = new(0, 1, 0);

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new("riscv", "RISC-V: remote sfence.vma through SBI RFENCE or IPIs; page tables as riscv_tlb_remove_ptdesc frees them",
        [
            new PvOptionInfo("remoteFence", "sbi (sbi_remote_sfence_vma_asid, below S-mode interrupt masking) or ipi (on_each_cpu_mask, waited)", "sbi"),
            new PvOptionInfo("rcuTableFree", "free page tables through RCU when fences go through SBI (MMU_GATHER_RCU_TABLE_FREE); false frees them right after the flush", "true"),
        ])
        {
            Costs = [new PvCostInfo(RiscVOptions.FlushAllThreshold, "a range of this many pages or more is fenced as the whole ASID (tlb_flush_all_threshold)", "pages", 64)],
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options)
    {
        services.AddOptions<RiscVOptions>().Bind(options).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RiscVOptions>, RiscVOptions.Validator>();
    }
}

/// <summary>A backend's options from plugins.json.</summary>
public sealed record RiscVOptions
{
    /// <summary>The cost key of tlb_flush_all_threshold.</summary>
    public const string FlushAllThreshold = "flushAllThreshold";

    /// <summary>sbi or ipi.</summary>
    public string RemoteFence { get; init; } = "sbi";

    /// <summary>Page tables through RCU when fences go through SBI.</summary>
    public bool RcuTableFree { get; init; } = true;

    /// <summary>Remote fences are SBI calls (riscv_use_sbi_for_rfence()).</summary>
    public bool Sbi => RemoteFence == "sbi";

    internal sealed class Validator : IValidateOptions<RiscVOptions>
    {
        public ValidateOptionsResult Validate(string? name, RiscVOptions o) =>
            o.RemoteFence is "sbi" or "ipi"
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"'remoteFence' must be sbi or ipi, not '{o.RemoteFence}'");
    }
}
