-- forget_deleted: let a deleted queue's name be created again at once (a reset for tests).
-- Touches gone. Returns 1 if the name was held, 0 if not.
return redis.call('DEL', K_GONE)
