"""Leaders' instructions (领导批示) and their supervision (督办): each instruction becomes
assignments (交办) with deadlines, reminded, escalated when late, closed only by an
answer the assigning office accepts."""
