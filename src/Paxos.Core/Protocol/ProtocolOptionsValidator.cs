using System.Globalization;
using Microsoft.Extensions.Options;
using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>Validates <see cref="ProtocolOptions"/>; every failure names the option, its value and the allowed range.</summary>
public sealed class ProtocolOptionsValidator : IValidateOptions<ProtocolOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ProtocolOptions options)
    {
        var failures = new List<string>();
        AddFailures(failures, options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every invalid option.</summary>
    /// <param name="options">The options to check.</param>
    public static void ThrowIfInvalid(ProtocolOptions options)
    {
        var result = new ProtocolOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(ProtocolOptions), result.Failures);
        }
    }

    /// <summary>Adds a sentence to <paramref name="failures"/> for each option out of range. <see cref="PaxosOptions"/>,
    /// which carries the same options under the same names, is checked by this same method.</summary>
    internal static void AddFailures(List<string> failures, ProtocolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Range(failures, nameof(options.ClusterSize), options.ClusterSize, 1, ReplicaId.MaxClusterSize);
        Range(failures, nameof(options.ReplicaId), options.ReplicaId, 0, Math.Max(0, options.ClusterSize - 1));
        Range(failures, nameof(options.ProgressTimeoutTicks), options.ProgressTimeoutTicks, 4, 1_000_000);
        Range(failures, nameof(options.MaxProgressTimeoutTicks), options.MaxProgressTimeoutTicks, 2L * options.ProgressTimeoutTicks, 100_000_000);
        Range(failures, nameof(options.LeaderHeartbeatTicks), options.LeaderHeartbeatTicks, 1, Math.Max(1, (options.ProgressTimeoutTicks / 2) - 1));
        Range(failures, nameof(options.ViewChangeRetransmitTicks), options.ViewChangeRetransmitTicks, 1, 1_000_000);
        Range(failures, nameof(options.VcProofIntervalTicks), options.VcProofIntervalTicks, 1, 1_000_000);
        Range(failures, nameof(options.PrepareRetransmitTicks), options.PrepareRetransmitTicks, 1, 1_000_000);
        Range(failures, nameof(options.ProposalRetransmitTicks), options.ProposalRetransmitTicks, 1, 1_000_000);
        Range(failures, nameof(options.UpdateRetransmitTicks), options.UpdateRetransmitTicks, 1, 1_000_000);
        Range(failures, nameof(options.AliveIntervalTicks), options.AliveIntervalTicks, 1, 1_000_000);
        Range(failures, nameof(options.CatchUpDelayTicks), options.CatchUpDelayTicks, 0, 1_000_000);
        Range(failures, nameof(options.CatchUpTimeoutTicks), options.CatchUpTimeoutTicks, 1, 1_000_000);
        Range(failures, nameof(options.MaxBatchUpdates), options.MaxBatchUpdates, 1, 4096);
        Range(failures, nameof(options.WindowSlots), options.WindowSlots, Math.Max(1, options.MaxBatchUpdates), 1_000_000);
        Range(failures, nameof(options.MaxMessageBytes), options.MaxMessageBytes, MessageSizes.MinMessageBytes, MessageSizes.MaxMessageBytes);
        Range(failures, nameof(options.MaxUpdateBytes), options.MaxUpdateBytes, 0, Math.Max(0, options.MaxMessageBytes - MessageSizes.MaxUpdateOverheadBytes));
        Range(failures, nameof(options.MaxUpdateQueueLength), options.MaxUpdateQueueLength, 1, 10_000_000);
        Range(failures, nameof(options.MaxPendingUpdates), options.MaxPendingUpdates, 1, 10_000_000);
        Range(failures, nameof(options.MaxPendingReads), options.MaxPendingReads, 1, 1_000_000);
        Range(failures, nameof(options.ReadTimeoutTicks), options.ReadTimeoutTicks, 1, 100_000_000);
        Range(failures, nameof(options.MaxClockDriftPpm), options.MaxClockDriftPpm, 0, 900_000);
        Range(failures, nameof(options.CatchUpSlotsPerRequest), options.CatchUpSlotsPerRequest, 1, 65_536);
        Range(failures, nameof(options.SnapshotIntervalSlots), options.SnapshotIntervalSlots, 0, 1_000_000_000);
        Range(failures, nameof(options.RetainedSlots), options.RetainedSlots, 0, 1_000_000_000);
        Range(failures, nameof(options.ClientExpirySlots), options.ClientExpirySlots, 1, 100_000_000);
    }

    internal static void Range(List<string> failures, string option, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            failures.Add(Say($"{option} is {value}; it must be from {min} to {max}."));
        }
    }

    internal static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
