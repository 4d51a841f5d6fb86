/// A bounded FIFO of outgoing messages for one peer.
///
/// When full, new messages are refused rather than old ones evicted: the caller (Raft)
/// tolerates loss and retransmits from its own state, and refusing keeps the queue's
/// order a prefix of what was sent.
struct PeerSendQueue {
    struct Message {
        var type: UInt8
        var payload: [UInt8]
    }

    private var messages: [Message] = []
    /// Index of the oldest message; taken messages are dropped from the array lazily.
    private var head = 0
    private(set) var byteCount = 0

    var count: Int { messages.count - head }

    /// Appends unless that would exceed either bound; false when the message was refused.
    mutating func enqueue(_ message: Message, maxMessages: Int, maxBytes: Int) -> Bool {
        guard count < maxMessages, byteCount + message.payload.count <= maxBytes else { return false }
        messages.append(message)
        byteCount += message.payload.count
        return true
    }

    /// Takes messages from the front until `budgetBytes` of payload is reached (always at least one).
    mutating func take(budgetBytes: Int) -> [Message] {
        var taken = [Message]()
        var bytes = 0
        while head < messages.count && (taken.isEmpty || bytes + messages[head].payload.count <= budgetBytes) {
            let m = messages[head]
            messages[head].payload = []
            head += 1
            bytes += m.payload.count
            taken.append(m)
        }
        byteCount -= bytes
        compact()
        return taken
    }

    /// Empties the queue; returns how many messages were discarded.
    mutating func discardAll() -> Int {
        let n = count
        messages.removeAll()
        head = 0
        byteCount = 0
        return n
    }

    private mutating func compact() {
        if head == messages.count {
            messages.removeAll(keepingCapacity: messages.capacity <= 4096)
            head = 0
        } else if head > 1024 && head * 2 > messages.count {
            messages.removeFirst(head)
            head = 0
        }
    }
}
