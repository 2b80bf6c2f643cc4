// The machine's firmware as a host service (contract 2.2): a call from the kernel into a more privileged layer
// that acts on other CPUs below the kernel's interrupt masking, as the RISC-V SBI RFENCE extension does for
// sbi_remote_sfence_vma(_asid) (OpenSBI raises M-mode software interrupts on the target harts, which an S-mode
// IRQ-off section does not hold off). Like a hypercall flush it completes on every target before it returns and
// says nothing about a walk in progress there, so a backend flushing this way must free page tables through RCU.
// It is counted as its own metric (firmware.call), never as a hypercall.
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Host;

/// <summary>
/// The firmware below the kernel (RISC-V SBI, an Arm SMCCC-style service): each call is one trap into firmware,
/// charged to the calling CPU (<see cref="CostModel.FirmwareCall"/>) plus <see cref="CostModel.FirmwareCallPerTarget"/>
/// for each other CPU it acts on.
/// </summary>
public interface IFirmware
{
    /// <summary>
    /// SBI RFENCE <c>sbi_remote_sfence_vma</c> / <c>sbi_remote_sfence_vma_asid</c>: apply
    /// <paramref name="invalidation"/> to the TLB of every CPU in <paramref name="targets"/> (the calling CPU included
    /// if it is in the mask) before returning. The targets are not interrupted at the kernel's level: a CPU with IRQs
    /// off is fenced all the same. Callable with IRQs off and from interrupt context.
    /// </summary>
    void RemoteSfenceVma(CpuMask targets, in TlbInvalidation invalidation);
}
