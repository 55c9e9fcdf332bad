namespace Paxos.Protocol;

/// <summary>What <see cref="PaxosReplica.Submit"/> did with an update.</summary>
public enum SubmitStatus
{
    /// <summary>The replica took responsibility for the update; its <see cref="ClientReply"/> comes in a later batch.</summary>
    Accepted = 0,

    /// <summary>The update had already executed; the reply, from the client table, is in the next batch.</summary>
    AlreadyExecuted = 1,

    /// <summary>A newer update of the same client executed or is pending; this one will never be answered.</summary>
    Stale = 2,

    /// <summary>Too many updates are pending at this replica; try again later.</summary>
    Overloaded = 3,

    /// <summary>The payload is larger than <see cref="ProtocolOptions.MaxUpdateBytes"/>.</summary>
    TooLarge = 4,

    /// <summary>The update can never execute: its client is not in the client table and its timestamp is not above the
    /// expiry mark (<see cref="ReplyStatus.Expired"/>); the reply, saying so, is in the next batch.</summary>
    Expired = 5,
}
