// The SMMU command queue as the SVA driver drives it. Commands are gathered into batches of
// CMDQ_BATCH_ENTRIES (arm_smmu_cmdq_batch); each full batch is submitted, and the last one with a CMD_SYNC
// whose completion the issuing CPU waits for. Every command is counted under its name, and each submitted
// batch is charged as one command-queue round trip (plus the ATC extra for ATC invalidations): the SMMU's
// own work, which no host service performs, so nothing is charged twice. Both figures are costs the backend
// declares (SmmuOptions.Costs), read once through ICost.
using Pv.Abstractions.Host;

namespace Pv.Plugins.Smmu;

/// <summary>Counts and charges the commands of one SMMU.</summary>
internal sealed class SmmuCommandQueue(IDeviceDmaPort port, IMetrics metrics, ICost cost, ICpus cpus)
{
    /// <summary>CMDQ_BATCH_ENTRIES: commands per submitted batch.</summary>
    public const int BatchEntries = 64;

    private readonly long _cmdqSync = cost.Value(SmmuOptions.CmdqSyncKey);
    private readonly long _atcInv = cost.Value(SmmuOptions.AtcInvKey);
    private readonly PvCounter _tlbiNhVa = metrics.Counter("smmu.cmd.tlbi_nh_va");
    private readonly PvCounter _tlbiNhAsid = metrics.Counter("smmu.cmd.tlbi_nh_asid");
    private readonly PvCounter _atcInvCount = metrics.Counter("smmu.cmd.atc_inv");
    private readonly PvCounter _sync = metrics.Counter("smmu.cmd.sync");
    private int _pending;
    private bool _pendingAtc;

    /// <summary>CMD_TLBI_NH_VA: <paramref name="commands"/> VA invalidations (one per page, or one per range with RIL).</summary>
    public void TlbiNhVa(long commands)
    {
        _tlbiNhVa.Add(commands);
        Queue(commands);
    }

    /// <summary>CMD_TLBI_NH_ASID: everything tagged with one ASID.</summary>
    public void TlbiNhAsid()
    {
        _tlbiNhAsid.Increment();
        Queue(1);
    }

    /// <summary>CMD_ATC_INV for one device's ATC.</summary>
    public void AtcInv()
    {
        _atcInvCount.Increment();
        _pendingAtc = true;
        Queue(1);
    }

    /// <summary>Submit what is queued with a CMD_SYNC and wait for it.</summary>
    public void Sync()
    {
        _sync.Increment();
        long charge = _cmdqSync + (_pendingAtc ? _atcInv : 0);
        cost.Charge(cpus.Current.Id, charge);
        _pending = 0;
        _pendingAtc = false;
        port.CommandSync();
    }

    private void Queue(long commands)
    {
        // A full batch goes to the queue without a sync (arm_smmu_cmdq_batch_add): one more round trip.
        for (long i = 0; i < commands; i++)
        {
            if (++_pending < BatchEntries) continue;
            cost.Charge(cpus.Current.Id, _cmdqSync);
            _pending = 0;
        }
    }
}
