// The x86 arch TLB interface in a Hyper-V guest: arch/x86/mm/tlb.c unchanged (remote flushes reach the hypervisor
// through the flush_tlb_multi pv op), with the era's gather knobs.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.HyperV;

/// <summary>Hyper-V guest IArchMmu.</summary>
[PvArch(HyperVOptions.X86)]
internal sealed class HyperVArchMmu(IPvMmuOps pvOps, ICpus cpus, IIpi ipi, IMmuNotifierRegistry notifiers, ICost cost, IOptions<HyperVOptions> options)
    : X86ArchMmu(pvOps, cpus, ipi, notifiers, cost)
{
    /// <inheritdoc/>
    public override MmuGatherConfig GatherConfig { get; } = options.Value.Gather;
}
