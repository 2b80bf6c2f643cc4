// The x86 arch TLB interface in a KVM guest: arch/x86/mm/tlb.c unchanged (it reaches other vCPUs through the
// flush_tlb_multi pv op), with the gather knobs of the table-free choice.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Kvm;

/// <summary>KVM guest IArchMmu.</summary>
[PvArch(KvmOptions.X86)]
internal sealed class KvmArchMmu(IPvMmuOps pvOps, ICpus cpus, IIpi ipi, IMmuNotifierRegistry notifiers, ICost cost, IOptions<KvmOptions> options)
    : X86ArchMmu(pvOps, cpus, ipi, notifiers, cost)
{
    /// <inheritdoc/>
    public override MmuGatherConfig GatherConfig { get; } = options.Value.Gather;
}
