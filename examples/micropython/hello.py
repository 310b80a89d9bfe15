# hello.py - the first program: print, count, compute. Runs on any MicroPython board.
# examples/python/upload_micropython.py examples/micropython/hello.py
print("Bonjour depuis le robot !")
total = 0
for i in range(1, 11):
    total += i
    print("1 + ... +", i, "=", total)
print("fini")
