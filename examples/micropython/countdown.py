# countdown.py - a countdown on the micro:bit's display, then an error on purpose: read the
# traceback the console shows (which line, which error) and fix it.
from microbit import display, sleep

for n in range(5, 0, -1):
    display.show(str(n))
    print(n)
    sleep(300)
display.scroll("GO")
speeds = [100, 150, 200]
print("the fourth speed is", speeds[3])  # IndexError: there are three speeds (0, 1, 2)
