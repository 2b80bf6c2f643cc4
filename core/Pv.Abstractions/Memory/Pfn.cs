// Page frame numbers and the frame states the engine tracks. A frame's generation changes on every
// reuse, which is how a use-after-free is told apart from a legitimate access.
namespace Pv.Abstractions.Memory;

/// <summary>A page frame number: the index of a 4 KiB physical frame.</summary>
/// <param name="Value">The frame index.</param>
public readonly record struct Pfn(ulong Value)
{
    /// <summary>No frame (allocation failed, or an empty entry).</summary>
    public static Pfn None => new(ulong.MaxValue);

    /// <summary>True unless this is <see cref="None"/>.</summary>
    public bool IsValid => Value != ulong.MaxValue;

    /// <inheritdoc/>
    public override string ToString() => IsValid ? $"pfn {Value:x}" : "pfn none";
}

/// <summary>What a physical frame currently holds.</summary>
public enum FrameKind : byte
{
    /// <summary>On the free list; any access to it is a use-after-free.</summary>
    Free = 0,
    /// <summary>An ordinary data page (anonymous or page cache).</summary>
    DataPage,
    /// <summary>A page-table page at some level.</summary>
    PageTable,
    /// <summary>A device PFN owned by a driver (mapped with VM_PFNMAP/VM_MIXEDMAP); not refcounted.</summary>
    DevicePfn,
    /// <summary>A device PFN its owner has revoked (after <c>unmap_mapping_range</c> returned).</summary>
    RevokedDevicePfn,
}

/// <summary>The state of one frame as the host's frame allocator reports it.</summary>
/// <param name="Kind">What the frame holds now.</param>
/// <param name="Generation">Changes every time the frame is freed and reused.</param>
public readonly record struct FrameInfo(FrameKind Kind, uint Generation);
